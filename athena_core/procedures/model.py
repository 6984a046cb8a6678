"""What a procedure is: its definition (the manifest), its versions and their checks.

A **procedure** (:class:`Procedure`) is the definition of a piece of code an agent can run:
its id ``namespace/name``, what it does, the JSON schema of its inputs and output (derived
from the entry function's typed signature by :func:`schema_from_signature`), the Athena
operations it needs, where it came from, and what it supersedes. A **version** is that
definition plus its code and tests, as one git commit (:class:`Revision`, what the
repository stores); the catalog adds its number, status and validation report
(:class:`VersionRecord`); :class:`ProcedureVersion` is both.

The definition is stored as ``manifest.json`` beside the code. JSON rather than TOML:
Python reads and writes it with the standard library (``tomllib`` only reads), so a
manifest round-trips byte for byte, and the schemas in it are JSON schema already.
:meth:`Procedure.to_manifest` writes it canonically (``format`` first, then the fields
in declaration order, two-space indent, a final newline); :meth:`Procedure.from_manifest`
reads it strictly: unknown or missing keys, a duplicated key and a value of the wrong type
are a :class:`ProcedureManifestError` that names the field.

Every value here is an immutable attrs class; constructing one checks it, so an invalid
procedure cannot exist (an :class:`InvalidArgumentError` whose ``argument`` names the field).
"""

from __future__ import annotations

import ast
import enum
import inspect
import json
import keyword
import re
import textwrap
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from athena_core._ast import parse_python
from athena_core._time import as_utc, isoformat
from athena_core.api.registry import name_problem
from athena_core.api.schema import type_schema
from athena_core.errors import InvalidArgumentError, ProcedureManifestError

__all__ = [
    "LANGUAGES",
    "MANIFEST_FORMAT",
    "MAX_DESCRIPTION_CHARS",
    "MAX_ID_PART_CHARS",
    "NO_EXPECTED",
    "SOURCES",
    "STAGES",
    "STATUSES",
    "Example",
    "HistoryEntry",
    "Procedure",
    "ProcedureSignature",
    "ProcedureVersion",
    "Revision",
    "Source",
    "Status",
    "TestOutcome",
    "ValidationCheck",
    "ValidationReport",
    "VersionRecord",
    "check_procedure_id",
    "schema_from_signature",
]

#: Where a procedure came from.
Source = Literal["learned", "user", "package", "marketplace"]
SOURCES: tuple[Source, ...] = typing.get_args(Source)
#: Where a version stands: only the gate makes a version ``active``; at most one is.
Status = Literal["candidate", "active", "retired"]
STATUSES: tuple[Status, ...] = typing.get_args(Status)
#: Languages a procedure may be written in.
LANGUAGES = ("python",)
#: The ``format`` of the manifests this Athena writes and reads.
MANIFEST_FORMAT = 1
#: Longest description (the Agent Skills limit, so every procedure exports as a skill).
MAX_DESCRIPTION_CHARS = 1024
#: Longest namespace or name (the Agent Skills limit on a skill's name).
MAX_ID_PART_CHARS = 64
_MAX_TEXT_CHARS = 255
_ID_PART = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_procedure_id(value: object, *, argument: str = "id") -> str:
    """Return ``value`` if it is a valid procedure id, else raise :class:`InvalidArgumentError`.

    An id is ``namespace/name``; each part is 1-64 lower-case letters, digits and single
    hyphens, not starting or ending with one (``notes/weekly-review``). The id is also the
    procedure's folder in the repository.
    """
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"A procedure {argument} must be a string 'namespace/name', not "
            f"{type(value).__name__}.", argument=argument)
    parts = value.split("/")
    if len(parts) != 2 or not all(
            _ID_PART.fullmatch(part) and len(part) <= MAX_ID_PART_CHARS for part in parts):
        raise InvalidArgumentError(
            f"{value[:140]!r} is not a valid procedure {argument}: it must be "
            "'namespace/name', each part 1-64 lower-case letters, digits and single hyphens, "
            "not starting or ending with a hyphen.",
            hint="For example 'notes/weekly-review'.", argument=argument)
    return value


# --- field checks (each raises InvalidArgumentError naming the field) ---------------------

def _fail(attribute: attrs.Attribute[Any], problem: str) -> typing.NoReturn:
    raise InvalidArgumentError(f"Procedure field {attribute.name!r} {problem}",
                               argument=attribute.name)


def _tuple(value: Any) -> Any:
    """Lists become tuples; anything else is left for the field's check to refuse."""
    return tuple(value) if isinstance(value, list) else value


def _check_id(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check_procedure_id(value, argument=attribute.name)


def _check_supersedes(instance: Procedure, attribute: attrs.Attribute[Any],
                      value: object) -> None:
    if value is None:
        return
    check_procedure_id(value, argument=attribute.name)
    if value == instance.id:
        _fail(attribute, "names the procedure itself; a procedure cannot supersede itself.")


def _check_description(_instance: object, attribute: attrs.Attribute[Any],
                       value: object) -> None:
    if not isinstance(value, str):
        _fail(attribute, f"must be a string, not {type(value).__name__}.")
    if not value.strip():
        _fail(attribute, "is empty; say what the procedure does and when to use it.")
    if len(value) > MAX_DESCRIPTION_CHARS:
        _fail(attribute, f"has {len(value)} characters; at most {MAX_DESCRIPTION_CHARS} "
                         "are allowed.")


def _check_entry(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not (isinstance(value, str) and value.isidentifier() and not keyword.iskeyword(value)
            and not value.startswith("_")):
        _fail(attribute, "must name a public Python function (an identifier such as 'run').")


def _one_of(choices: tuple[str, ...]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value not in choices:
            _fail(attribute, f"is {value!r}; it must be one of {', '.join(choices)}.")
    return check


def _strings(item_problem: Callable[[str], str | None]
             ) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """A check that the value is a tuple of distinct strings, each passing ``item_problem``."""
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, tuple):
            _fail(attribute, f"must be a list of strings, not {type(value).__name__}.")
        for item in value:
            if not isinstance(item, str):
                _fail(attribute, f"must hold strings only, not {type(item).__name__}.")
            problem = item_problem(item)
            if problem:
                _fail(attribute, f"holds {item[:80]!r}, which {problem}.")
        if len(set(value)) != len(value):
            _fail(attribute, "lists the same value twice.")
    return check


def _text_problem(item: str) -> str | None:
    if not item.strip() or len(item) > _MAX_TEXT_CHARS or _CONTROL.search(item):
        return (f"must be 1-{_MAX_TEXT_CHARS} characters, not blank, without control "
                "characters")
    return None


def _operation_problem(item: str) -> str | None:
    if name_problem(item) is None:
        return None
    return "is not an Athena operation name (such as 'semantic.recall')"


def _check_real_values(instance: object, attribute: attrs.Attribute[Any],
                       value: object) -> None:
    _strings(_text_problem)(instance, attribute, value)
    assert isinstance(value, tuple)
    inputs = getattr(instance, "input_schema", {}).get("properties", {})
    for name in value:
        if name not in inputs:
            _fail(attribute, f"names {name[:80]!r}, which is not an input; it may name "
                             f"only inputs ({', '.join(inputs) or 'it has none'}).")


def _check_schema(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dict):
        _fail(attribute, f"must be a JSON schema object, not {type(value).__name__}.")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        _fail(attribute, "must hold JSON values only (strings, numbers, booleans, null, "
                         "lists, objects).")
    if attribute.name == "input_schema" and not (
            value.get("type") == "object" and isinstance(value.get("properties"), dict)):
        _fail(attribute, "must be an object schema ({'type': 'object', 'properties': ...}); "
                         "derive it with schema_from_signature().")


def _utc(value: datetime | str) -> datetime:
    return as_utc(value, name="created_at")


class _NoExpected(enum.Enum):
    NO_EXPECTED = "no expected output"


#: An :class:`Example` without an expected output (its dry run need only succeed).
NO_EXPECTED = _NoExpected.NO_EXPECTED


def _json_value(value: object, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"Procedure field 'examples': {what} must hold JSON values only (strings, "
            "numbers, booleans, null, lists, objects with string keys).",
            argument="examples") from None


def _check_inputs(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise InvalidArgumentError(
            "Procedure field 'examples': an example's inputs must be an object of keyword "
            "arguments (string keys).", argument="examples")
    _json_value(value, "an example's inputs")


def _check_expected(_instance: object, _attribute: attrs.Attribute[Any],
                    value: object) -> None:
    if value is not NO_EXPECTED:
        _json_value(value, "an example's expected output")


@attrs.frozen
class Example:
    """Inputs the entry function is dry-run with before a version is admitted, and
    optionally the output it must return for them (compared as JSON values)."""

    #: The keyword arguments, as JSON values.
    inputs: dict[str, Any] = attrs.field(validator=_check_inputs, hash=False)
    #: What it must return, or :data:`NO_EXPECTED` (then it need only succeed).
    expected: Any = attrs.field(default=NO_EXPECTED, validator=_check_expected, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"inputs": ..., "expected": ...}``; without ``expected`` when none is given."""
        if self.expected is NO_EXPECTED:
            return {"inputs": self.inputs}
        return {"inputs": self.inputs, "expected": self.expected}

    @classmethod
    def from_dict(cls, raw: object) -> Example:
        if isinstance(raw, Example):
            return raw
        if not isinstance(raw, dict) or "inputs" not in raw or set(raw) - {"inputs",
                                                                            "expected"}:
            raise InvalidArgumentError(
                "Procedure field 'examples' must hold objects {\"inputs\": {...}} with an "
                "optional \"expected\" output, and no other keys.", argument="examples")
        return cls(raw["inputs"], raw.get("expected", NO_EXPECTED))


def _examples(value: Any) -> Any:
    """A list of examples (dicts or :class:`Example`) becomes a tuple of :class:`Example`."""
    if isinstance(value, list | tuple):
        return tuple(Example.from_dict(item) for item in value)
    return value


def _check_examples(_instance: object, attribute: attrs.Attribute[Any],
                    value: object) -> None:
    if not isinstance(value, tuple):
        _fail(attribute, f"must be a list of examples, not {type(value).__name__}.")


# --- the definition -----------------------------------------------------------------------

@attrs.frozen
class Procedure:
    """The definition of a procedure: what ``manifest.json`` holds.

    The schemas are plain JSON-schema dicts; treat them as read-only.
    """

    #: ``namespace/name`` (see :func:`check_procedure_id`); also its folder in git.
    id: str = attrs.field(validator=_check_id)
    #: What it does and when to use it (at most 1,024 characters).
    description: str = attrs.field(validator=_check_description)
    #: JSON schema of its keyword inputs, from the entry function's signature.
    input_schema: dict[str, Any] = attrs.field(validator=_check_schema, hash=False)
    #: JSON schema of what it returns (its output type); ``{}`` means any JSON value.
    output_schema: dict[str, Any] = attrs.field(validator=_check_schema, hash=False)
    #: The function of ``main.py`` that runs it.
    entry: str = attrs.field(default="run", validator=_check_entry)
    language: str = attrs.field(default="python", validator=_one_of(LANGUAGES))
    #: The Athena operations it calls (``semantic.recall``, ...); the gate checks its code
    #: against them and it runs with no others.
    permissions: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple, validator=_strings(_operation_problem))
    #: Further operations its tests may call to arrange their data (``episodic.record``
    #: for a procedure that only reads); never granted to its code or to a real run.
    test_permissions: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple, validator=_strings(_operation_problem))
    #: Inputs that receive real values: a placeholder of a sensitive value passed in one
    #: of them is resolved on the host before the run (on the audit log); in any other
    #: input the procedure gets the placeholder.
    real_values: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple, validator=_check_real_values)
    tags: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple, validator=_strings(_text_problem))
    source: Source = attrs.field(default="user", validator=_one_of(SOURCES))
    #: Ids of the executions or episodes it was learned from.
    derived_from: tuple[str, ...] = attrs.field(
        default=(), converter=_tuple, validator=_strings(_text_problem))
    #: The procedure this one replaces, if any.
    supersedes: str | None = attrs.field(default=None, validator=_check_supersedes)
    #: Inputs (and optionally outputs) the gate dry-runs the entry function with.
    examples: tuple[Example, ...] = attrs.field(
        default=(), converter=_examples, validator=_check_examples)

    @property
    def namespace(self) -> str:
        return self.id.partition("/")[0]

    @property
    def name(self) -> str:
        return self.id.partition("/")[2]

    @classmethod
    def from_code(cls, code: str, *, id: str, description: str, entry: str = "run",
                  **fields: Any) -> Procedure:
        """A procedure whose schemas are derived from ``entry``'s signature in ``code``.

        ``fields`` are the other fields (``permissions``, ``tags``, ``source``, ...).
        Raises :class:`InvalidArgumentError` if ``code`` does not parse, does not define
        ``entry`` or types it with something that has no JSON form.
        """
        signature = schema_from_signature(code, function=entry)
        return cls(id=id, description=description, entry=entry,
                   input_schema=signature.input_schema,
                   output_schema=signature.output_schema, **fields)

    def manifest_fields(self) -> dict[str, Any]:
        """The fields as JSON values, in the order above: what the manifest (and an Agent
        Skills export's metadata) holds, and what the constructor takes back.
        ``real_values`` appears only when it names an input, so the manifests written
        before it existed stay byte for byte canonical."""
        fields = attrs.asdict(self, filter=lambda field, value: field.name != "examples"
                              and not (field.name == "real_values" and not value))
        fields["examples"] = [example.to_dict() for example in self.examples]
        return fields

    def to_manifest(self) -> str:
        """The canonical ``manifest.json`` text: ``format``, then the fields in the order
        above (a schema's properties in parameter order), two-space indent, final newline."""
        return json.dumps({"format": MANIFEST_FORMAT, **self.manifest_fields()}, indent=2,
                          ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_manifest(cls, text: str | bytes) -> Procedure:
        """Read a ``manifest.json``; strict (see the module docstring).

        Raises :class:`ProcedureManifestError` naming the field at fault.
        """
        try:
            raw = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except ProcedureManifestError:
            raise
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProcedureManifestError(
                f"manifest.json is not valid JSON: {exc}.",
                hint="Write it as a JSON object (Procedure.to_manifest() shows the form).",
            ) from None
        if not isinstance(raw, dict):
            raise ProcedureManifestError(
                f"manifest.json must hold a JSON object, not {type(raw).__name__}.")
        fields = {field.name for field in attrs.fields(cls)}
        unknown = sorted(set(raw) - fields - {"format"})
        if unknown:
            raise ProcedureManifestError(
                f"manifest.json has the unknown field {unknown[0]!r}; the fields are "
                f"{', '.join(sorted([*fields, 'format']))}.", argument=unknown[0])
        required = ["format", *(field.name for field in attrs.fields(cls)
                                if field.default is attrs.NOTHING)]
        missing = [name for name in required if name not in raw]
        if missing:
            raise ProcedureManifestError(
                f"manifest.json lacks the field {missing[0]!r}.", argument=missing[0])
        version = raw.pop("format")
        if isinstance(version, bool) or version != MANIFEST_FORMAT:
            raise ProcedureManifestError(
                f"manifest.json has a 'format' other than {MANIFEST_FORMAT}: it was written "
                "by another version of Athena.", hint="Upgrade athena-core.", argument="format")
        try:
            return cls(**raw)
        except InvalidArgumentError as exc:
            raise ProcedureManifestError(f"manifest.json: {exc.message}", hint=exc.hint,
                                         argument=exc.argument) from None
        except TypeError as exc:  # attrs' own checks; the field checks above cover the rest
            raise ProcedureManifestError(f"manifest.json: {exc}") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ProcedureManifestError(f"manifest.json has the field {key[:80]!r} twice.",
                                         argument=key)
        out[key] = value
    return out


# --- versions -----------------------------------------------------------------------------

# The version classes are not slotted, so that ProcedureVersion can be both a Revision and a
# VersionRecord (slotted classes cannot share a base that way).
@attrs.frozen(kw_only=True, slots=False)
class HistoryEntry:
    """One commit in a procedure's history."""

    #: The commit id (40 hex digits).
    commit: str
    #: ``name`` or ``name <email>``, as given when it was saved.
    author: str
    message: str
    #: The commit's time, UTC, to the second.
    created_at: datetime = attrs.field(converter=_utc)


@attrs.frozen(kw_only=True, slots=False)
class Revision(HistoryEntry):
    """A version as git holds it: the commit, the definition, the code and the tests."""

    procedure: Procedure
    #: ``main.py``.
    code: str
    #: ``test_main.py``.
    tests: str


#: The stages of the gate, in the order they run: a check's ``stage``.
STAGES = ("static", "tests", "dry_run")


@attrs.frozen
class ValidationCheck:
    """One check of the gate (``static.imports``, ``tests``, ``dry_run``, ...).

    Its stage is the part of its name before the first dot.
    """

    name: str
    passed: bool
    #: What it found, for a person (never the memory it ran against).
    detail: str = ""
    #: Not run, because an earlier stage failed (then ``passed`` is false).
    skipped: bool = False

    @property
    def stage(self) -> str:
        return self.name.partition(".")[0]


@attrs.frozen
class TestOutcome:
    """One ``test_*`` function of a version's tests, as its sandboxed run ended."""

    __test__ = False  # not a test class, whatever its name

    name: str
    passed: bool
    #: Why it failed: the exception's type and where it was raised (never its message).
    error: str = ""


@attrs.frozen
class ValidationReport:
    """What the gate found when it checked a version."""

    checks: tuple[ValidationCheck, ...] = attrs.field(converter=_tuple)
    checked_at: datetime = attrs.field(converter=_utc)
    #: Each test function's outcome, in the order the tests define them.
    tests: tuple[TestOutcome, ...] = attrs.field(default=(), converter=_tuple)

    @property
    def passed(self) -> bool:
        """True if there was at least one check and every check passed."""
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failed_stages(self) -> tuple[str, ...]:
        """The stages with a check that ran and failed, in the order they ran."""
        failed = {check.stage for check in self.checks
                  if not check.passed and not check.skipped}
        return tuple(sorted(failed, key=lambda stage: (
            STAGES.index(stage) if stage in STAGES else len(STAGES), stage)))

    @property
    def tests_passed(self) -> int:
        return sum(outcome.passed for outcome in self.tests)

    def to_dict(self) -> dict[str, Any]:
        return {"checks": [attrs.asdict(check) for check in self.checks],
                "checked_at": isoformat(self.checked_at),
                "tests": [attrs.asdict(outcome) for outcome in self.tests]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ValidationReport:
        return cls(checks=tuple(ValidationCheck(**check) for check in raw["checks"]),
                   checked_at=raw["checked_at"],
                   tests=tuple(TestOutcome(**outcome) for outcome in raw.get("tests", ())))


@attrs.frozen(kw_only=True, slots=False)
class VersionRecord(HistoryEntry):
    """A version as the catalog's rows know it: the commit, its number, status and report."""

    #: 1 for the procedure's first version, then 2, 3, ... in commit order.
    number: int
    status: Status = attrs.field(validator=_one_of(STATUSES))
    validation: ValidationReport | None = None


@attrs.frozen(kw_only=True, slots=False)
class ProcedureVersion(Revision, VersionRecord):
    """A version with everything known of it: what git holds and what the catalog adds."""


# --- schemas from a typed signature ---------------------------------------------------------

@attrs.frozen
class ProcedureSignature:
    """The JSON schemas of a function's keyword inputs and of its return value."""

    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


#: Annotation names that stand for a type, and the type.
_NAMED_TYPES: dict[str, Any] = {
    "int": int, "float": float, "str": str, "bool": bool, "None": None, "Any": Any,
    "list": typing.List, "dict": typing.Dict, "List": typing.List, "Dict": typing.Dict}  # noqa: UP006
#: Annotation names subscripted with types.
_GENERICS = {"list", "dict", "List", "Dict", "Optional", "Union", "Literal"}
_SUPPORTED = "int, float, str, bool, None, Any, list[X], dict[str, X], X | None, Literal[...]"


def schema_from_signature(source: str | Callable[..., Any], *,
                          function: str | None = None) -> ProcedureSignature:
    """The input and output JSON schemas of a function, read from its source code.

    ``source`` is Python source text (or a function, whose source is read); it is parsed
    with :mod:`ast`, never imported or run. ``function`` names the function to read; if it
    is not given the source must define exactly one top-level function. Every parameter
    and the return value must be annotated with int, float, str, bool, None, Any,
    list[X], dict[str, X], X | None (or Optional/Union) or Literal[...]; parameters without
    a default are required, and a default that is a JSON scalar is shown as ``default``.
    Keyword inputs only: ``*args``, ``**kwargs`` and positional-only parameters are refused.

    Raises :class:`InvalidArgumentError` naming the parameter and its annotation.
    """
    if callable(source):
        function = function or getattr(source, "__name__", None)
        source = textwrap.dedent(inspect.getsource(source))
    node = _find_function(source, function)
    where = f"{node.name}()"
    args = node.args
    if args.vararg or args.kwarg or args.posonlyargs:
        raise InvalidArgumentError(
            f"{where} takes *args, **kwargs or positional-only parameters; a procedure's "
            "inputs are keyword arguments.", hint="Give each input a named parameter.",
            argument=node.name)
    params = [*args.args, *args.kwonlyargs]
    defaults: list[ast.expr | None] = [
        *([None] * (len(args.args) - len(args.defaults))), *args.defaults, *args.kw_defaults]
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param, default in zip(params, defaults, strict=True):
        if param.annotation is None:
            raise InvalidArgumentError(
                f"Parameter {param.arg!r} of {where} has no type annotation.",
                hint=f"Annotate it with one of: {_SUPPORTED}.", argument=param.arg)
        schema = type_schema(_annotation_type(param.annotation, param.arg, where))
        if default is None:
            required.append(param.arg)
        else:
            value = _literal(default)
            if value is not _NO_VALUE and (value is None or isinstance(
                    value, str | int | float | bool)):
                schema = {**schema, "default": value}
        properties[param.arg] = schema
    if node.returns is None:
        raise InvalidArgumentError(
            f"{where} has no return annotation.",
            hint=f"Annotate what it returns with one of: {_SUPPORTED}.", argument="return")
    inputs: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        inputs["required"] = required
    output = type_schema(_annotation_type(node.returns, "return", where))
    return ProcedureSignature(input_schema=inputs, output_schema=output)


_NO_VALUE = object()


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NO_VALUE


def _find_function(source: str, function: str | None) -> ast.FunctionDef:
    if not isinstance(source, str):
        raise InvalidArgumentError(
            f"source must be Python source text or a function, not {type(source).__name__}.",
            argument="source")
    try:
        tree = parse_python(source)
    except (SyntaxError, ValueError) as exc:
        lineno = getattr(exc, "lineno", None)
        line = f" (line {lineno})" if lineno else ""
        raise InvalidArgumentError(
            f"The code does not parse as Python{line}: {getattr(exc, 'msg', exc)}.",
            hint="Fix the syntax error.", argument="code") from None
    candidates = [node for node in tree.body
                  if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                  and (function is None or node.name == function)]
    if len(candidates) != 1:
        wanted = f"a top-level function {function!r}" if function else \
            "exactly one top-level function"
        raise InvalidArgumentError(
            f"The code must define {wanted}; it defines "
            f"{len(candidates) if function is None else 'none'}.",
            hint="Name the function that runs the procedure (entry='...').",
            argument="entry")
    node = candidates[0]
    if isinstance(node, ast.AsyncFunctionDef):
        raise InvalidArgumentError(
            f"{node.name}() is async; a procedure's entry function is a plain def.",
            argument="entry")
    return node


def _annotation_type(node: ast.expr, param: str, where: str) -> Any:
    """The type an annotation stands for, built from a fixed list (nothing is evaluated)."""
    def refuse() -> typing.NoReturn:
        shown = "the return value" if param == "return" else f"parameter {param!r}"
        raise InvalidArgumentError(
            f"The annotation {ast.unparse(node)[:120]!r} of {shown} of {where} has no JSON "
            f"form.", hint=f"Use one of: {_SUPPORTED}.", argument=param)

    def name_of(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Name):
            return expr.id
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) \
                and expr.value.id == "typing":
            return expr.attr
        return None

    def build(expr: ast.expr) -> Any:
        if isinstance(expr, ast.Constant):
            if expr.value is None:
                return None
            if isinstance(expr.value, str):  # a string annotation: "list[int]"
                try:
                    inner = parse_python(expr.value, mode="eval").body
                except SyntaxError:
                    refuse()
                return build(inner)
            refuse()
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return typing.Union[build(expr.left), build(expr.right)]  # noqa: UP007
        name = name_of(expr)
        if name in _NAMED_TYPES:
            return _NAMED_TYPES[name]
        if not isinstance(expr, ast.Subscript):
            refuse()
        base = name_of(expr.value)
        if base not in _GENERICS:
            refuse()
        items = list(expr.slice.elts) if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        if base == "Literal":
            values = [_literal(item) for item in items]
            if any(value is _NO_VALUE or not (value is None or isinstance(
                    value, str | int | bool)) for value in values):
                refuse()
            return Literal[tuple(values)]
        args = [build(item) for item in items]
        if base in ("list", "List") and len(args) == 1:
            return list[args[0]]  # type: ignore[valid-type]
        if base in ("dict", "Dict") and len(args) == 2 and args[0] is str:
            return dict[str, args[1]]  # type: ignore[valid-type]
        if base == "Optional" and len(args) == 1:
            return typing.Optional[args[0]]  # noqa: UP045
        if base == "Union" and args:
            return typing.Union[tuple(args)]  # noqa: UP007
        refuse()

    return build(node)
