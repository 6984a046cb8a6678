"""The tools an MCP client sees, independent of the MCP SDK.

In **code mode** (the default) a client gets two tools: ``run_code``, which runs
a program in the sandbox where ``import athena`` reaches memory through the
bridge, and ``search_api``, which finds the operations a program can call. In
**classic mode** every registered operation is a tool of its own, its input
schema generated from the operation's type hints.

A :class:`ToolSession` serves one MCP session: it binds every call to the
session's scope and every program to the server's execution policy, turns bad
arguments and failures into error results a model can read (the server stays
up), and records every call in episodic memory
(``kind="tool_call"``: tool, status, timing; a ``run_code`` call points at its
execution's own record instead of storing the program again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from athena_core import _ids
from athena_core.errors import AthenaError
from athena_core.execution.model import ExecutionResult
from athena_core.execution.runner import AUDIT_IMPORTANCE

if TYPE_CHECKING:
    from athena_core.api import Operation
    from athena_core.runtime import Athena

__all__ = ["MAX_OUTPUT_CHARS", "RUN_CODE_DESCRIPTION", "SERVER_INSTRUCTIONS", "Tool",
           "ToolResult", "ToolSession", "tool_name"]

#: Longest stdout or stderr a ``run_code`` result carries (the rest is cut, and says so).
MAX_OUTPUT_CHARS = 20_000
_MAX_LOGGED_ARGUMENT = 200
#: Arguments of operations that the server sets, never the client (classic mode): a
#: client choosing ``execute``'s policy could widen its own sandbox.
_SERVER_BOUND = {
    "scope": "scope is set by the session, not per call.",
    "policy": "the policy is the server's ([execution] policy), not chosen per call."}

SERVER_INSTRUCTIONS = (
    "Athena is long-term memory. Use run_code to run a short Python program in which "
    "`import athena` reaches memory (athena.remember, athena.recall, athena.episodic.*, "
    "athena.semantic.*); filter and aggregate inside the program and return only the "
    "answer. Use search_api to find operations and their signatures.")

RUN_CODE_DESCRIPTION = (
    "Run a program in Athena's sandbox and return its result: status, the value of its "
    "last expression (JSON), stdout, the error if it failed, and the execution id. "
    "In Python, `import athena` reaches memory: athena.remember(text, metadata=None) -> id, "
    "athena.recall(query, k=10) -> hits (dicts with id, text, score, metadata, valid_from), "
    "athena.get(id), athena.forget(ids), athena.episodic.record/timeline/search, "
    "athena.semantic.update/history/facts. The API is described in /athena/apis "
    "(start with README.md) and by search_api. No network; time and memory are limited.")

_SEARCH_DESCRIPTION = (
    "Find the athena operations a program can call, best match first. detail: 'names', "
    "'summary' (signature and first line) or 'full' (documentation and argument types).")


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
                 client: str | None = None, session_id: str | None = None) -> None:
        self.athena = athena
        self.scope = scope
        self.classic = classic
        self.client = client
        self.session_id = session_id or _ids.new_id()
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
            result = _error("InvalidArgument", "Tool arguments must be a JSON object.")
        else:
            try:
                result = tool.handler(dict(arguments or {}))
            except AthenaError as exc:
                result = _error(type(exc).__name__, str(exc))
            except (TypeError, ValueError) as exc:  # from argument checks of the operation
                result = _error(type(exc).__name__, str(exc))
        self._record(name, dict(arguments or {}) if isinstance(arguments, Mapping) else {},
                     result, time.perf_counter() - started)
        return result

    def _record(self, name: str, arguments: dict[str, Any], result: ToolResult,
                seconds: float) -> None:
        """One ``tool_call`` event: what ran, its status and timing, not its output."""
        data = result.data or {}
        context: dict[str, Any] = {"tool": name, "mode": "classic" if self.classic else "code",
                                   "status": "error" if result.is_error else "ok",
                                   "duration_ms": round(seconds * 1000, 2)}
        if self.client:
            context["client"] = self.client
        if "execution_id" in data:  # the program and its outcome are in that record
            context["execution_id"] = data["execution_id"]
        else:
            context["arguments"] = {key: _short(value) for key, value in arguments.items()}
        if result.is_error and "error" in data:
            context["error"] = data["error"].get("type")
        with self.athena.execution.recording():
            self.athena.episodic.record(
                f"MCP tool call {name}: {context['status']}", kind="tool_call",
                session=self.session_id, outcome="failure" if result.is_error else "success",
                context=context, importance=AUDIT_IMPORTANCE, scope=self.scope)

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
                    "limit": {"type": "integer", "minimum": 1, "default": 10}},
                "required": ["query"], "additionalProperties": False}, self._search_api),
        ]

    def _run_code(self, arguments: dict[str, Any]) -> ToolResult:
        code = _argument(arguments, "code", str)
        language = _argument(arguments, "language", str, "python")
        _no_others(arguments, {"code", "language"})
        if language not in ("python", "javascript", "bash"):
            return _error("InvalidArgument", f"language must be python, javascript or bash, "
                                             f"not {language!r}.")
        return _execution_result(self.athena.execute(
            code, language=language, scope=self.scope))  # type: ignore[arg-type]

    def _search_api(self, arguments: dict[str, Any]) -> ToolResult:
        from athena_core.discovery import ApiIndex

        query = _argument(arguments, "query", str)
        detail = _argument(arguments, "detail", str, "summary")
        limit = _argument(arguments, "limit", int, 10)
        _no_others(arguments, {"query", "detail", "limit"})
        key = ("mcp-api-index", self.athena.config.execution.policy)
        index = self.athena.api.cache.get(key)
        if index is None:
            from athena_core.execution.bridge import callable_operations

            policy = self.athena.execution.policy(None)
            embed = self.athena.index.embedder.embed  # type: ignore[union-attr]
            index = self.athena.api.cache[key] = ApiIndex(
                callable_operations(self.athena.api, policy), embed=embed)
        found = index.search(query, detail=detail, limit=limit)  # type: ignore[arg-type]
        data = {"operations": found}
        return ToolResult(_compact(data) if found else "No operation matches; try other "
                          "words, or read /athena/apis/README.md from a program.", data)

    # --- classic mode ----------------------------------------------------------------

    def _classic_tools(self) -> list[Tool]:
        from athena_core.api.schema import input_schema

        return [Tool(tool_name(op.name), op.doc, _without_bound(input_schema(op)),
                     self._operation_handler(op)) for op in self.athena.api]

    def _operation_handler(self, op: Operation) -> Callable[[dict[str, Any]], ToolResult]:
        from athena_core.execution.bridge import to_jsonable

        scoped = "scope" in op.signature.parameters

        def handler(arguments: dict[str, Any]) -> ToolResult:
            bound = sorted(_SERVER_BOUND.keys() & arguments.keys())
            if bound:
                return _error("InvalidArgument", _SERVER_BOUND[bound[0]])
            value = op(**arguments, **({"scope": self.scope} if scoped else {}))
            if isinstance(value, ExecutionResult):  # `execute`: reported as run_code reports
                return _execution_result(value)
            value = to_jsonable(value)
            data = value if isinstance(value, dict) else {"result": value}
            return ToolResult(_compact(value), data)

        return handler


def _execution_result(result: ExecutionResult) -> ToolResult:
    """What a client reads of an execution: a failed program is an error result."""
    data: dict[str, Any] = {"status": result.status, "execution_id": result.id}
    if result.value is not None:
        data["value"] = result.value
    for stream in ("stdout", "stderr"):
        text = getattr(result, stream)
        if text:
            data[stream] = _truncated(text)
    if result.error is not None:
        data["error"] = result.error.to_dict()
    if result.violations:
        data["violations"] = list(result.violations)
    return ToolResult(_compact(data), data, is_error=not result.ok)


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


def _error(kind: str, message: str) -> ToolResult:
    data = {"error": {"type": kind, "message": message}}
    return ToolResult(f"{kind}: {message}", data, is_error=True)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _truncated(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n[... {len(text) - MAX_OUTPUT_CHARS:,} more characters]"


def _short(value: Any) -> Any:
    """An argument as logged: long strings and large values are cut."""
    if isinstance(value, str):
        return value if len(value) <= _MAX_LOGGED_ARGUMENT else value[:_MAX_LOGGED_ARGUMENT] + "..."
    if value is None or isinstance(value, int | float | bool):
        return value
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= _MAX_LOGGED_ARGUMENT else text[:_MAX_LOGGED_ARGUMENT] + "..."
