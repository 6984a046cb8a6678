"""The tools an MCP client sees, independent of the MCP SDK.

In **code mode** (the default) a client gets two tools: ``run_code``, which runs
a program in the sandbox where ``athena`` (no import needed) reaches memory through
the bridge, and ``search_api``, which finds the operations a program can call. In
**classic mode** every registered operation is a tool of its own, its input
schema generated from the operation's type hints and its description the first
sentence of its documentation, at most 150 characters (the whole of it is an
``athena://apis/`` resource).
Either way the always-loaded surface stays under :data:`SURFACE_BUDGET`: when the
operations' tools would not fit, classic mode lists those that do (the memory
operations first, then the other built-in ones) and one more tool, ``call_operation``,
that calls any of them by name.

A :class:`ToolSession` serves one MCP session: it binds every call to the
session's scope and every program to the server's execution policy, turns bad
arguments and failures into error results a model can read (the server stays
up), and records every call in the audit log, not in memory
(``kind="tool_call"``: tool, status, timing, argument names and sizes; a
``run_code`` call points at its execution's own record instead of storing the
program again).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from athena_core import _ids, calls
from athena_core.calls import CallContext
from athena_core.discovery.search import DEFAULT_LIMIT
from athena_core.errors import AthenaError, InvalidArgumentError
from athena_core.execution.bridge import allowed_operations, callable_operations, policy_key
from athena_core.execution.model import ExecutionResult

if TYPE_CHECKING:
    from athena_core.api import Operation
    from athena_core.discovery.procedures import ProcedureIndex
    from athena_core.execution.policy import Policy
    from athena_core.runtime import Athena

__all__ = ["CALL_OPERATION", "CLASSIC_INSTRUCTIONS", "MAX_OUTPUT_CHARS", "RUN_CODE_DESCRIPTION",
           "SERVER_INSTRUCTIONS", "SURFACE_BUDGET", "Tool", "ToolResult", "ToolSession",
           "first_sentence", "tool_name"]

log = logging.getLogger("athena.mcp")

#: Characters the always-loaded surface (the instructions and the ``tools/list`` result)
#: stays under in either mode, however many operations and procedures there are.
SURFACE_BUDGET = 8_000
#: What ``tools/list`` puts around the tools, and room for fields an SDK adds to each.
_LIST_OVERHEAD, _TOOL_OVERHEAD = 200, 20
#: Longest description of a classic tool (the first sentence of its documentation).
_DESCRIPTION_CHARS = 150
#: The built-in plugin of the memory layers, whose operations come first in classic mode.
_MEMORY_PLUGIN = "athena.memory"
#: The knowledge graph's namespace: its many operations come after the other built-in
#: ones in classic mode, so they are the first to be reached through ``call_operation``.
_GRAPH_NAMESPACE = "graph"
#: The classic tool that calls operations left without a tool of their own.
CALL_OPERATION = "call_operation"
#: Longest value (as JSON), stdout or stderr a ``run_code`` result carries (the rest is
#: cut, and the result says so). Whole responses are bounded by ``[mcp] max_response_chars``.
MAX_OUTPUT_CHARS = 20_000
_RETURN_LESS = ("Return less: filter and aggregate inside the program (counts, the few "
                "items you need) and return only the answer, or print a summary.")
_ASK_FOR_LESS = ("Ask for less: a smaller limit or k, or narrower arguments; or use code "
                 "mode to filter and aggregate before anything is returned.")
#: Arguments of operations that the server sets, never the client (classic mode): a
#: client choosing ``execute``'s policy could widen its own sandbox.
_SERVER_BOUND = {
    "scope": "scope is set by the session, not per call.",
    "policy": "the policy is the session's (set by how the client connected), not chosen "
              "per call."}

SERVER_INSTRUCTIONS = (
    "Athena is long-term memory. Use run_code to run a short Python program that reaches "
    "memory through `athena`; filter and aggregate inside the program and return only the "
    "answer. Use search_api to find operations with their signatures, and saved procedures "
    "(run one with athena.procedures.run).")

#: What a client of classic mode is told: its tools are the operations themselves.
CLASSIC_INSTRUCTIONS = (
    "Athena is long-term memory, offered as one tool per operation: remember stores a fact, "
    "recall finds the memories that answer a question, get and forget read and delete one "
    "by id, episodic_record and episodic_timeline keep and list events, semantic_update and "
    "semantic_facts keep facts that change over time. A tool's description is the start "
    "of its documentation, and the whole of it is the resource athena://apis/PATH "
    "(episodic_timeline: athena://apis/episodic/timeline.py); the scope is set by how you "
    "connected, never per call.")

RUN_CODE_DESCRIPTION = (
    "Run a program in Athena's sandbox and return its result: status, the value of its "
    "last expression (JSON), stdout, the error if it failed, and the execution id. "
    "In Python `athena` reaches memory, no import needed: "
    "athena.remember(text, metadata=None) -> id, "
    "athena.recall(query, k=10) -> hits (dicts with id, text, score, metadata, valid_from), "
    "athena.get(id), athena.forget(ids), athena.episodic.record/timeline/search, "
    "athena.semantic.update/history/facts. The API is described in /athena/apis "
    "(start with README.md) and by search_api. No network; time and memory are limited.")

#: The operation a program runs procedures with: search_api offers procedures only to
#: sessions whose programs may call it.
_RUN_PROCEDURE = "procedures.run"
#: Where the server keeps its procedure index (in ``athena.api.cache``, one per instance).
_PROCEDURE_INDEX = "mcp-procedure-index"

_SEARCH_DESCRIPTION = (
    "Find the athena operations a program can call, and saved procedures (by description "
    "or code, with how to run them), best match first. detail: 'names', 'summary' "
    "(signature and first line) or 'full' (documentation and argument types).")


@attrs.frozen
class ToolResult:
    """What a tool call returns: text for the model, structured data for programs."""

    text: str
    data: dict[str, Any] | None = None
    is_error: bool = False


@attrs.frozen
class Tool:
    """One MCP tool."""

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Callable[[dict[str, Any]], ToolResult] = attrs.field(repr=False)


def tool_name(operation: str) -> str:
    """The tool of an operation in classic mode: ``episodic.record`` -> ``episodic_record``.

    Dots are not allowed in the tool names of several model APIs.
    """
    return operation.replace(".", "_")


class ToolSession:
    """The tools of one MCP session, bound to its scope."""

    def __init__(self, athena: Athena, *, scope: str, classic: bool = False,
                 client: str | None = None, session_id: str | None = None,
                 policy: Policy | str | None = None, authenticated: bool = False) -> None:
        self.athena = athena
        self.scope = scope
        self.classic = classic
        #: The client's name: a configured client's (``authenticated``), else the name it
        #: gave itself, which is recorded as such and never decides anything.
        self.client = client
        self.authenticated = authenticated
        self.session_id = session_id or _ids.new_id()
        #: The session's policy (``None``: the server's ``[execution] policy``): what its
        #: programs may do, and in classic mode which operations it is offered.
        self.policy = athena.execution.policy(policy)
        #: Bound around every call of this session (see :mod:`athena_core.calls`).
        self.context = CallContext.for_policy(
            self.policy, scope=scope,
            caller=f"mcp:{client}" if client and authenticated else "mcp")
        tools = self._classic_tools() if classic else self._code_tools()
        self.tools: dict[str, Tool] = {tool.name: tool for tool in tools}

    # --- calling ---------------------------------------------------------------------

    def call(self, name: str, arguments: Mapping[str, Any] | None) -> ToolResult:
        """Run tool ``name``; every failure becomes an error result, never an exception."""
        started = time.perf_counter()
        tool = self.tools.get(name)
        if tool is None:
            result = _error("UnknownTool", f"There is no tool {name!r}; the tools are "
                                           f"{', '.join(sorted(self.tools))}.")
        elif arguments is not None and not isinstance(arguments, Mapping):
            result = _error(_INVALID, "Tool arguments must be a JSON object.")
        else:
            try:
                with calls.bind(self.context):
                    result = tool.handler(dict(arguments or {}))
            except AthenaError as exc:
                result = _error(type(exc).__name__, str(exc))
            except (TypeError, ValueError) as exc:  # a tool's own argument checks
                result = _error(_INVALID, str(exc))
            except Exception as exc:  # a bug, or a plugin's: the client learns no internals
                log.exception("MCP tool %s failed", name)
                result = _error("InternalError", f"{name} failed inside Athena "
                                f"({type(exc).__name__}); the server's log has the details.")
        result = _bounded(result, self.athena.config.mcp.max_response_chars,
                          _ASK_FOR_LESS if self.classic else _RETURN_LESS)
        self._record(name, dict(arguments or {}) if isinstance(arguments, Mapping) else {},
                     result, time.perf_counter() - started)
        return result

    def _record(self, name: str, arguments: dict[str, Any], result: ToolResult,
                seconds: float) -> None:
        """One ``tool_call`` audit record: what ran, its status and timing, not its output."""
        data = result.data or {}
        error = data.get("error") if result.is_error else None
        with self.athena.execution.recording():
            self.athena.audit.record_tool_call(
                name, arguments, scope=self.scope,
                caller=self.context.caller,
                status="error" if result.is_error else "ok", duration_ms=seconds * 1000,
                mode="classic" if self.classic else "code", client=self.client,
                client_declared=not self.authenticated,
                session_id=self.session_id,
                # a program and its outcome are in its execution's own record
                execution_id=data.get("execution_id"),
                error=error.get("type") if isinstance(error, Mapping) else None,
                response_bytes=len(result.text.encode("utf-8", "replace")))

    # --- code mode -------------------------------------------------------------------

    def _code_tools(self) -> list[Tool]:
        return [
            Tool("run_code", RUN_CODE_DESCRIPTION, {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "the program"},
                    "language": {"enum": ["python", "javascript", "bash"],
                                 "default": "python"}},
                "required": ["code"], "additionalProperties": False}, self._run_code),
            Tool("search_api", _SEARCH_DESCRIPTION, {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "what you want to do"},
                    "detail": {"enum": ["names", "summary", "full"], "default": "summary"},
                    "limit": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}},
                "required": ["query"], "additionalProperties": False}, self._search_api),
        ]

    def _run_code(self, arguments: dict[str, Any]) -> ToolResult:
        code = _argument(arguments, "code", str)
        language = _argument(arguments, "language", str, "python")
        _no_others(arguments, {"code", "language"})
        if language not in ("python", "javascript", "bash"):
            return _error(_INVALID, f"language must be python, javascript or bash, "
                                             f"not {language!r}.")
        # The session runs programs (that is code mode); what they may do is its policy's.
        running = attrs.evolve(self.context, permissions=self.context.permissions | {"execute"},
                               operations=(*self.context.operations, "execute"))
        with calls.bind(running):
            return _execution_result(self.athena.execute(
                code, language=language, policy=self.policy.to_dict()))

    def _search_api(self, arguments: dict[str, Any]) -> ToolResult:
        from athena_core.discovery import ApiIndex

        query = _argument(arguments, "query", str)
        detail = _argument(arguments, "detail", str, "summary")
        limit = _argument(arguments, "limit", int, DEFAULT_LIMIT)
        _no_others(arguments, {"query", "detail", "limit"})
        # What this session's programs may call, and nothing else.
        key = ("mcp-api-index", policy_key(self.policy))
        index = self.athena.api.cache.get(key)
        operations = callable_operations(self.athena.api, self.policy)
        if index is None:
            embed = self.athena.index.embedder.embed  # type: ignore[union-attr]
            # What the session sets (its scope) is left out of signatures.
            index = self.athena.api.cache[key] = ApiIndex(operations, embed=embed,
                                                          bound=set(_SERVER_BOUND))
        found = index.search(query, detail=detail, limit=limit)
        data: dict[str, Any] = {"operations": found}
        if any(op.name == _RUN_PROCEDURE for op in operations):
            from athena_core.mcp.skills import SkillLibrary

            procedures: list[Any] = self._procedures().search(query, detail=detail,
                                                              limit=limit)
            if detail == "full" and not SkillLibrary.offered_to(self.context, self.athena):
                procedures = [{**entry, "skill": None} for entry in procedures]
            if procedures:
                data["procedures"] = procedures
        return ToolResult(_compact(data) if found or "procedures" in data else
                          "No operation or procedure matches; try other words, or read "
                          "/athena/apis/README.md from a program.", data)

    def _procedures(self) -> ProcedureIndex:
        """The server's index of active procedures, brought up to date with the catalog."""
        from athena_core.discovery.procedures import IndexedProcedure, ProcedureIndex
        from athena_core.mcp.skills import skill_uri
        from athena_core.procedures.skills import MAX_SKILL_NAME_CHARS, skill_name_for

        index: ProcedureIndex = self.athena.api.cache.setdefault(_PROCEDURE_INDEX,
                                                                 ProcedureIndex())
        catalog = self.athena.procedures.catalog

        def load(id: str, commit: str) -> tuple[IndexedProcedure, str]:
            version = catalog.repository.read(id, commit)
            offered = len(skill_name_for(id)) <= MAX_SKILL_NAME_CHARS
            return IndexedProcedure(version.procedure, commit,
                                    skill_uri(id) if offered else None), version.code

        index.sync(catalog.active_commits(), load)
        return index

    # --- classic mode ----------------------------------------------------------------

    def _classic_tools(self) -> list[Tool]:
        """A tool per operation, memory operations first; past :data:`SURFACE_BUDGET`,
        those that fit and ``call_operation`` for every operation."""
        from athena_core.api.schema import input_schema
        from athena_core.runtime import BUILTIN_PLUGINS

        built_in = {*BUILTIN_PLUGINS, "athena-core"}

        layers = set(self.athena.layers)

        def order(op: Operation) -> tuple[int, bool, str]:
            """The built-in memory operations (top-level and the memory layers') first,
            then the operations of plugins' memory layers, then the other built-in ones
            (the knowledge graph's, many, last of them), then the other plugin
            operations."""
            if op.provider not in built_in:
                return (1 if op.namespace.split(".", 1)[0] in layers else 3), False, op.name
            return ((0 if not op.namespace or op.provider == _MEMORY_PLUGIN else 2),
                    op.namespace == _GRAPH_NAMESPACE, op.name)

        operations = sorted(allowed_operations(self.athena.api, self.context), key=order)
        tools = [Tool(tool_name(op.name), first_sentence(op.doc),
                      _without_bound(input_schema(op)), self._operation_handler(op))
                 for op in operations]
        room = SURFACE_BUDGET - len(CLASSIC_INSTRUCTIONS) - _LIST_OVERHEAD
        if sum(_listed_size(tool) for tool in tools) <= room:
            return tools
        handlers = {op.name: self._operation_handler(op) for op in operations}
        fallback = Tool(CALL_OPERATION, _CALL_OPERATION_DESCRIPTION, {
            "type": "object",
            "properties": {"operation": {"type": "string",
                                         "description": "its dotted name, e.g. episodic.record"},
                           "arguments": {"type": "object", "default": {}}},
            "required": ["operation"], "additionalProperties": False},
            lambda arguments: _call_operation(handlers, arguments))
        room -= _listed_size(fallback)
        kept: list[Tool] = []
        for tool in tools:
            room -= _listed_size(tool)
            if room < 0:
                break
            kept.append(tool)
        return [*kept, fallback]

    def _operation_handler(self, op: Operation) -> Callable[[dict[str, Any]], ToolResult]:
        from athena_core.execution.bridge import to_jsonable

        # The session's policy, not the server's default, for an operation taking one.
        server_set = ({"policy": self.policy.to_dict()} if "policy" in op.signature.parameters
                      else {})

        def handler(arguments: dict[str, Any]) -> ToolResult:
            bound = sorted(_SERVER_BOUND.keys() & arguments.keys())
            if bound:
                return _error(_INVALID, _SERVER_BOUND[bound[0]])
            value = op(**arguments, **server_set)
            if isinstance(value, ExecutionResult):  # `execute`: reported as run_code reports
                return _execution_result(value)
            # under "result": its keys never mix with ours; toward the model: concealed
            value = self.athena.privacy.conceal_output(to_jsonable(value), scope=self.scope)
            return ToolResult(_compact(value), {"result": value})

        return handler


_CALL_OPERATION_DESCRIPTION = (
    "Call any operation by its dotted name, with its arguments as an object: the tool list "
    "has no room for a tool per operation. Resource athena://apis/README.md lists them, and "
    "athena://apis/PATH documents each (episodic.record: athena://apis/episodic/record.py).")


def first_sentence(doc: str, limit: int = _DESCRIPTION_CHARS) -> str:
    """The first sentence of a docstring's first paragraph, its lines joined; past
    ``limit`` characters, cut after a word and ended with `` ...``."""
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    sentence = _SENTENCE_END.split(paragraph, 1)[0]
    if len(sentence) <= limit:
        return sentence
    return sentence[:limit - 4].rsplit(" ", 1)[0] + " ..."


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _listed_size(tool: Tool) -> int:
    """About the characters ``tools/list`` spends on ``tool``."""
    return len(_compact({"name": tool.name, "description": tool.description,
                         "inputSchema": tool.input_schema})) + _TOOL_OVERHEAD


def _call_operation(handlers: Mapping[str, Callable[[dict[str, Any]], ToolResult]],
                    arguments: dict[str, Any]) -> ToolResult:
    name = _argument(arguments, "operation", str)
    given = arguments.get("arguments", {})
    _no_others(arguments, {"operation", "arguments"})
    if not isinstance(given, Mapping):
        raise TypeError(f"argument 'arguments' must be an object, not {type(given).__name__}")
    handler = handlers.get(name)
    if handler is None:
        return _error("UnknownOperation", f"There is no operation {name!r} this session may "
                      "call; athena://apis/README.md lists them.")
    return handler(dict(given))


def _execution_result(result: ExecutionResult) -> ToolResult:
    """What a client reads of an execution: a failed program is an error result."""
    data: dict[str, Any] = {"status": result.status, "execution_id": result.id}
    cut: list[str] = []
    if result.value is not None:
        _put_value(data, result, cut)
    for stream in ("stdout", "stderr"):
        text = getattr(result, stream)
        if stream == "stderr" and result.error is not None:
            text = _without_error_line(text, result.error.type, result.error.message)
        if text:
            data[stream] = _truncated(text)
            if len(text) > MAX_OUTPUT_CHARS:
                cut.append(f"{stream}: the first {MAX_OUTPUT_CHARS:,} of {len(text):,} "
                           "characters are shown")
    if result.error is not None:
        data["error"] = result.error.to_dict()
    if result.violations:
        data["violations"] = list(result.violations)
    if cut:
        data.update(truncated=True, cut=cut, hint=_RETURN_LESS)
    return ToolResult(_compact(data), data, is_error=not result.ok)


def _put_value(data: dict[str, Any], result: ExecutionResult, cut: list[str]) -> None:
    """The value, or past MAX_OUTPUT_CHARS the start of its JSON text as ``value_preview``."""
    if result.value_truncated:  # the sandbox already cut it to the output limit
        text, size = str(result.value), f"{result.value_truncated:,} bytes"
    else:
        text = _compact(result.value)
        if len(text) <= MAX_OUTPUT_CHARS:
            data["value"] = result.value
            return
        size = f"{len(text):,} characters"
    data["value_preview"] = text[:MAX_OUTPUT_CHARS]
    cut.append(f"value: it is {size} as JSON; value_preview holds its first "
               f"{min(len(text), MAX_OUTPUT_CHARS):,} characters")


def _without_error_line(stderr: str, kind: str, message: str) -> str:
    """stderr without the traceback's last line, which repeats ``error`` (type: message)."""
    tail = f"{kind}: {message}" if message else kind
    trimmed = stderr.rstrip("\n")
    if not trimmed.endswith(tail):
        return stderr
    start = trimmed.rfind("\n", 0, len(trimmed) - len(tail)) + 1
    line = trimmed[start:len(trimmed) - len(tail)]
    if line and not line.endswith("."):  # what precedes the type is its module: athena.errors.
        return stderr
    return trimmed[:start]


def _bounded(result: ToolResult, max_chars: int, hint: str) -> ToolResult:
    """``result`` with its text and structured content together under ``max_chars``.

    Both carry the same data, so each gets half. Fields share that room: the small ones
    are kept whole and the large ones cut to an equal share (a list keeps its first
    items, a string its start); ``cut`` says what was cut.
    """
    data = result.data if result.data is not None else {"text": result.text}
    if len(result.text) + len(_compact(data)) <= max_chars:
        return result
    half = max_chars // 2
    own = data.get("cut")  # run_code's own notes (a classic result is under "result")
    notes = [str(note) for note in own] if isinstance(own, list) else []
    fitted, cut = _fit({k: v for k, v in data.items() if k not in _NOTES},
                       half - len(_compact(notes)) - len(hint) - 800)  # room for the notes
    fitted = {**fitted, "truncated": True, "cut": notes + cut, "hint": hint}
    text = _compact(fitted)
    if len(text) > half:  # the notes themselves are too long
        keep = half // 2
        fitted = {"truncated": True, "preview": text[:keep], "cut": [
            f"the whole result: {len(text):,} characters as JSON, of which preview holds the "
            f"first {keep:,}"], "hint": hint}
        text = _compact(fitted)
    return ToolResult(text, fitted, is_error=result.is_error)


_NOTES = ("truncated", "cut", "hint")


def _fit(data: dict[str, Any], budget: int, path: str = "") -> tuple[dict[str, Any], list[str]]:
    """``data`` with its large fields cut to equal shares of ``budget`` characters of JSON."""
    data, cut = dict(data), []
    for _ in range(3):  # escapes and the cut markers can overshoot a little: again
        sizes = {key: len(_compact(value)) for key, value in data.items()}
        room = budget - sum(len(_compact(key)) + 2 for key in data)
        if sum(sizes.values()) <= room or not sizes:
            break
        share, left = max(0, room), len(sizes)
        for size in sorted(sizes.values()):  # small fields whole; the rest share what is left
            if size > share // left:
                break
            share, left = share - size, left - 1
        share //= max(1, left)
        for key, size in sizes.items():
            if size > share:
                data[key], note = _shrink(data[key], size, share, f"{path}{key}")
                cut += note
    return data, cut


def _shrink(value: Any, size: int, chars: int, where: str) -> tuple[Any, list[str]]:
    """``value`` (``size`` characters as JSON) cut to about ``chars``, and what was cut."""
    if isinstance(value, list) and value:
        shown = _fitting_items(value, chars)
        return value[:shown], [f"{where}: the first {shown:,} of {len(value):,} items are shown"]
    if isinstance(value, str) and value:
        kept = max(0, len(value) * (chars - 40) // size)  # escapes make JSON longer
        return (value[:kept] + f"[... {len(value) - kept:,} more characters]",
                [f"{where}: the first {kept:,} of {len(value):,} characters are shown"])
    if isinstance(value, dict) and value:
        return _fit(value, chars, f"{where}.")
    return None, [f"{where}: left out ({size:,} characters as JSON)"]


def _fitting_items(items: list[Any], chars: int) -> int:
    """How many of the first ``items`` fit ``chars`` characters as JSON (binary search)."""
    low, high = 0, len(items)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_compact(items[:middle])) <= chars:
            low = middle
        else:
            high = middle - 1
    return low


def _without_bound(schema: dict[str, Any]) -> dict[str, Any]:
    """The server binds the scope and the policy: clients are not offered them."""
    properties = {k: v for k, v in schema["properties"].items() if k not in _SERVER_BOUND}
    required = [name for name in schema.get("required", []) if name not in _SERVER_BOUND]
    return {**schema, "properties": properties, **({"required": required} if required else {})}


def _argument(arguments: dict[str, Any], name: str, kind: type, *default: Any) -> Any:
    if name not in arguments:
        if default:
            return default[0]
        raise ValueError(f"missing required argument {name!r}")
    value = arguments[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"argument {name!r} must be {'a string' if kind is str else 'an integer'}"
                        f", not {type(value).__name__}")
    return value


def _no_others(arguments: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(arguments) - known)
    if unknown:
        raise TypeError(f"unknown argument(s) {', '.join(map(repr, unknown))}; "
                        f"expected {', '.join(sorted(known))}")


#: The error type of a call with bad arguments, whichever check found them: the name of
#: the exception the host API raises for them.
_INVALID = InvalidArgumentError.__name__


def _error(kind: str, message: str) -> ToolResult:
    data = {"error": {"type": kind, "message": message}}
    return ToolResult(f"{kind}: {message}", data, is_error=True)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _truncated(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n[... {len(text) - MAX_OUTPUT_CHARS:,} more characters]"

