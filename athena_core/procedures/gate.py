"""Verify before admit: a version becomes ``active`` only once it has been checked.

:func:`verify` checks a version in three stages and returns a
:class:`~athena_core.procedures.model.ValidationReport`; :func:`admit` verifies a version
in the catalog and makes it ``active`` only if every check passed (else it stays a
``candidate``, with the report). The stages, in order (a stage runs only if the ones
before it passed; the checks it would have made are recorded as skipped):

``static``
    The code and tests are read, never run: they parse; the entry function has the
    manifest's schemas; they import only :data:`ALLOWED_IMPORTS` (the tests may also
    import ``main``); every ``athena`` operation they name is registered and among the
    procedure's ``permissions``, and the ``athena`` module is used only by naming its
    operations (``athena.recall(...)``, ``athena.episodic.record(...)``) (the tests may
    also call its ``test_permissions``, to arrange their data); they use none
    of :data:`FORBIDDEN_NAMES` and pass the sandbox's own static checks
    (:func:`~athena_core.execution.static_checks.check_python`); and nothing is a stub: no
    function of the code whose body is only ``pass``, ``...`` or ``raise
    NotImplementedError`` (nor such a test), no TODO/FIXME/XXX comment.
``tests``
    One sandboxed program writes ``main.py`` and ``test_main.py`` into its private work
    dir, imports the tests and calls every ``test_*`` function (plain functions, plain
    ``assert``), recording each one's outcome; no test functions at all is a failure.
``dry_run``
    A second sandboxed program calls the entry function with each declared example's
    inputs; each must return a JSON value (equal to the example's ``expected`` output
    when it gives one). A procedure that declares no examples fails this stage.

Both programs run under :func:`procedure_policy` (the strict preset, allowed only the
procedure's declared operations, and for the tests its ``test_permissions`` too) in a
fresh scratch scope under ``_verify/``, whose
memories are forgotten afterwards, whatever happened. Details name checks, tests and
exception types, never a message or a value (which could quote memory).

:func:`confidence` scores a version from real signals only: its report and the
:class:`RunStats` of its real runs (see ``docs/procedures.md`` for the formula).
"""

from __future__ import annotations

import ast
import io
import json
import re
import secrets
import tokenize
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from athena_core._ast import parse_python
from athena_core._time import utcnow
from athena_core.api.registry import SANDBOX_NAMES
from athena_core.errors import InvalidArgumentError
from athena_core.execution.policy import PRESETS, Policy
from athena_core.execution.static_checks import check_python
from athena_core.procedures.model import (
    NO_EXPECTED,
    Example,
    Procedure,
    Revision,
    TestOutcome,
    ValidationCheck,
    ValidationReport,
    VersionRecord,
    schema_from_signature,
)
from athena_core.procedures.repository import CODE_FILE, TESTS_FILE

if TYPE_CHECKING:
    from athena_core.api import ApiRegistry
    from athena_core.execution.model import ExecutionResult
    from athena_core.procedures.catalog import ProcedureCatalog
    from athena_core.procedures.repository import ProcedureRepository
    from athena_core.runtime import Athena

__all__ = ["ALLOWED_IMPORTS", "FORBIDDEN_NAMES", "SCRATCH_PREFIX", "RunStats", "admit",
           "confidence", "entry_program", "procedure_policy", "run_in_scratch", "verify"]

#: Modules a procedure may import: standard-library modules that compute and reach no
#: network, file, process or clock, and ``athena``. (The tests may also import ``main``.)
ALLOWED_IMPORTS = frozenset({
    "__future__", "abc", "athena", "base64", "bisect", "collections", "copy", "dataclasses",
    "datetime", "decimal", "difflib", "enum", "fractions", "functools", "hashlib", "heapq",
    "itertools", "json", "math", "numbers", "operator", "re", "statistics", "string",
    "textwrap", "typing", "unicodedata"})
#: Built-in names a procedure may not use at all (called or not): they open files, run
#: code that was not checked, or reach around the checks.
FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "__import__", "__builtins__", "breakpoint", "input",
    "globals", "locals", "vars"})
#: Scratch scopes are ``_verify/<random>``.
SCRATCH_PREFIX = "_verify/"
#: The policy the gate's programs run under, before it is narrowed to a procedure.
_BASE_POLICY = PRESETS["strict"]
_MARKER = re.compile(r"\b(TODO|FIXME|XXX)\b", re.IGNORECASE)


@attrs.frozen
class RunStats:
    """How a version's real runs went: how many there were and how many succeeded."""

    runs: int = attrs.field(default=0)
    successes: int = attrs.field(default=0)

    @runs.validator
    def _check_runs(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgumentError(f"runs must be a whole number >= 0, not {value!r}.",
                                       argument="runs")

    @successes.validator
    def _check_successes(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not \
                0 <= value <= self.runs:
            raise InvalidArgumentError(
                f"successes must be a whole number from 0 to runs ({self.runs}), not "
                f"{value!r}.", argument="successes")


# --- admitting -----------------------------------------------------------------------------

def admit(athena: Athena, catalog: ProcedureCatalog, repository: ProcedureRepository,
          procedure_id: str, commit: str, *, hold: bool = False) -> VersionRecord:
    """Verify version ``commit`` of ``procedure_id`` (read from ``repository``) and record
    the outcome in ``catalog``: ``active`` if every check passed (the version that was
    active is retired), else ``candidate``; either way with the report. With ``hold``
    (``[procedures] require_approval``) a version that passed stays a ``candidate`` too,
    until a person approves it. Returns the version's record."""
    revision = repository.read(procedure_id, commit)
    report = verify(athena, revision)
    return catalog.set_status(procedure_id, revision.commit,
                              "active" if report.passed and not hold else "candidate",
                              validation=report)


def procedure_policy(athena: Athena, operations: Sequence[str], *,
                     base: Policy = _BASE_POLICY) -> Policy:
    """``base`` narrowed to ``operations``: only those of them ``base`` allows, and only
    the permissions (``read``, ``write``, ...) they need that ``base`` grants."""
    from athena_core.calls import CallContext

    registry = athena.api
    context = CallContext.for_policy(base, scope=SCRATCH_PREFIX, caller="gate")
    allowed = tuple(name for name in operations if name in registry
                    and context.allows(name, registry.get(name).permissions))
    needs: set[str] = set()
    for name in allowed:
        needs |= registry.get(name).permissions
    return attrs.evolve(base, name=f"{base.name}+procedure", api=allowed,
                        permissions=tuple(p for p in base.permissions if p in needs))


# --- verifying -----------------------------------------------------------------------------

def verify(athena: Athena, revision: Revision, *,
           examples: Sequence[Example] | None = None) -> ValidationReport:
    """Check ``revision`` in the three stages of the module docstring and return the report.

    ``examples`` replace the procedure's declared examples for the dry run. Needs an
    executor (a sandbox); raises :class:`~athena_core.errors.SandboxUnavailableError`
    without one rather than admitting anything unchecked.
    """
    procedure = revision.procedure
    chosen = tuple(procedure.examples if examples is None else
                   (Example.from_dict(example) for example in examples))
    checks = _static_checks(athena.api, revision)
    outcomes: tuple[TestOutcome, ...] = ()
    if all(check.passed for check in checks):
        policy = procedure_policy(athena, procedure.permissions)
        tests_check, outcomes = _run_tests(
            athena, revision, procedure_policy(athena, _allowed(procedure, TESTS_FILE)))
        checks.append(tests_check)
        if tests_check.passed:
            checks.append(_dry_run(athena, revision, policy, chosen))
        else:
            checks.append(_skipped("dry_run"))
    else:
        checks += [_skipped("tests"), _skipped("dry_run")]
    return ValidationReport(checks=tuple(checks), checked_at=utcnow(), tests=outcomes)


def _skipped(name: str) -> ValidationCheck:
    return ValidationCheck(name, False, "not run: an earlier stage failed", skipped=True)


# --- stage 1: static -----------------------------------------------------------------------

_STATIC = ("static.syntax", "static.signature", "static.imports", "static.operations",
           "static.names", "static.stub")


def _static_checks(registry: ApiRegistry, revision: Revision) -> list[ValidationCheck]:
    procedure = revision.procedure
    trees: dict[str, ast.Module] = {}
    problems: list[str] = []
    for name, source in ((CODE_FILE, revision.code), (TESTS_FILE, revision.tests)):
        try:
            trees[name] = parse_python(source, filename=name)
        except (SyntaxError, ValueError) as exc:
            problems.append(f"{name} does not parse (line {getattr(exc, 'lineno', '?')})")
    if problems:
        return [ValidationCheck("static.syntax", False, "; ".join(problems)),
                *(ValidationCheck(name, False, "not run: the code does not parse",
                                  skipped=True) for name in _STATIC[1:])]
    sources = {CODE_FILE: revision.code, TESTS_FILE: revision.tests}
    found = {
        "static.signature": _signature_problems(revision),
        "static.imports": [f"{file} line {line}: {problem}" for file, tree in trees.items()
                           for line, problem in _import_problems(tree, file)],
        "static.operations": [
            f"{file} line {line}: {problem}" for file, tree in trees.items()
            for line, problem in _operation_problems(tree, registry, _allowed(procedure, file))],
        "static.names": [f"{file} line {line}: {problem}" for file, tree in trees.items()
                         for line, problem in _name_problems(tree, sources[file])],
        "static.stub": [f"{file} line {line}: {problem}" for file, tree in trees.items()
                        for line, problem in _stub_problems(tree, sources[file], file)],
    }
    unknown = [name for name in (*procedure.permissions, *procedure.test_permissions)
               if name not in registry]
    if unknown:
        found["static.operations"].insert(0, f"declares {', '.join(unknown)}, which is no "
                                             "registered operation")
    checks = [ValidationCheck("static.syntax", True, "main.py and test_main.py parse")]
    for name in _STATIC[1:]:
        listed = found[name]
        detail = "; ".join(listed[:5]) + (f"; and {len(listed) - 5} more"
                                          if len(listed) > 5 else "")
        checks.append(ValidationCheck(name, not listed, detail or "ok"))
    return checks


def _allowed(procedure: Procedure, file: str) -> tuple[str, ...]:
    """The operations ``file`` may call: the tests may also call ``test_permissions``."""
    if file == TESTS_FILE:
        return (*procedure.permissions, *procedure.test_permissions)
    return procedure.permissions


def _signature_problems(revision: Revision) -> list[str]:
    procedure = revision.procedure
    try:
        signature = schema_from_signature(revision.code, function=procedure.entry)
    except InvalidArgumentError as exc:
        return [exc.message]
    if (signature.input_schema, signature.output_schema) != (procedure.input_schema,
                                                            procedure.output_schema):
        return [f"{procedure.entry}() in main.py does not have the manifest's schemas"]
    return []


def _import_problems(tree: ast.Module, file: str) -> Iterator[tuple[int, str]]:
    allowed = ALLOWED_IMPORTS | ({_module(CODE_FILE)} if file == TESTS_FILE else set())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            yield node.lineno, "a relative import"
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            if name.split(".", 1)[0] not in allowed:
                yield node.lineno, f"imports {name}, which is not allowed"


def _athena_aliases(tree: ast.Module) -> dict[str, str]:
    """Local names bound to the ``athena`` module or to a name in it -> its dotted path
    in the module (``""`` for the module itself)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "athena" or alias.name.startswith("athena."):
                    if alias.asname:
                        aliases[alias.asname] = alias.name.partition(".")[2]
                    else:
                        aliases["athena"] = ""
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and (
                node.module == "athena" or node.module.startswith("athena.")):
            prefix = node.module.partition(".")[2]
            for alias in node.names:
                path = f"{prefix}.{alias.name}" if prefix else alias.name
                aliases[alias.asname or alias.name] = path
    return aliases


def _operation_problems(tree: ast.Module, registry: ApiRegistry,
                        permissions: Sequence[str]) -> Iterator[tuple[int, str]]:
    """Every use of the ``athena`` module names an operation, called, that the procedure
    declared; or something the module defines besides its operations (``athena.errors``)."""
    aliases = _athena_aliases(tree)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    namespaces = {name.rsplit(".", 1)[0] for name in registry.names() if "." in name}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id in aliases
                and isinstance(node.ctx, ast.Load)):
            continue
        parts = [aliases[node.id]] if aliases[node.id] else []
        top: ast.expr = node
        parent = parents.get(top)
        while isinstance(parent, ast.Attribute):
            top, parent = parent, parents.get(parent)
            parts.append(top.attr)
        path = ".".join(parts)
        if parts and parts[0] in SANDBOX_NAMES:
            continue
        called = isinstance(parent, ast.Call) and parent.func is top
        shown = f"athena.{path}" if path else "athena"
        if path in registry and path not in permissions:
            yield node.lineno, f"calls {shown}, which the manifest's permissions do not list"
        elif path in registry and not called:
            yield node.lineno, f"uses {shown} other than by calling it"
        elif path and path not in registry and path not in namespaces:
            yield node.lineno, f"names {shown}, which is no registered operation"
        elif path not in registry:
            yield node.lineno, f"uses {shown} other than by calling a named operation"


def _name_problems(tree: ast.Module, source: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            yield node.lineno, f"uses {node.id}"
    _, findings = check_python(source, _BASE_POLICY)
    for finding in findings:
        yield finding.line, finding.message


def _is_stub(body: list[ast.stmt]) -> bool:
    """Whether a function body does nothing: only a docstring, ``pass``, ``...`` or
    ``raise NotImplementedError``."""
    def idle(statement: ast.stmt) -> bool:
        if isinstance(statement, ast.Pass):
            return True
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            return statement.value.value is Ellipsis or isinstance(statement.value.value, str)
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) \
                else statement.exc
            return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
        return False
    return all(idle(statement) for statement in body)


def _stub_problems(tree: ast.Module, source: str, file: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_stub(node.body) \
                and (file == CODE_FILE or node.name.startswith("test_")):
            yield node.lineno, f"{node.name}() is a stub (its body does nothing)"
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # it parsed, so this does not happen
        return
    for token in tokens:
        if token.type == tokenize.COMMENT and _MARKER.search(token.string):
            yield token.start[0], "a TODO/FIXME/XXX comment marks unfinished work"


# --- stages 2 and 3: in the sandbox --------------------------------------------------------

#: Writes the version's files into the program's private work dir and imports from there.
_PRELUDE = """\
import json as _json
import os as _os
import sys as _sys
import tempfile as _tempfile
import traceback as _traceback

_dir = _tempfile.mkdtemp()
for _name, _text in _json.loads({files!r}).items():
    with open(_os.path.join(_dir, _name), "w", encoding="utf-8") as _file:
        _file.write(_text)
_sys.path.insert(0, _dir)


def _where(exc):
    frames = [frame for frame in _traceback.TracebackException.from_exception(exc).stack
              if _os.path.dirname(frame.filename) == _dir]
    last = frames[-1] if frames else None
    place = f" at {{_os.path.basename(last.filename)}} line {{last.lineno}}" if last else ""
    return type(exc).__name__ + place
"""

_TEST_RUNNER = _PRELUDE + """
_outcomes = []
try:
    import {tests} as _tests
except BaseException as _exc:
    _outcomes = "importing the tests raised " + _where(_exc)
else:
    for _name, _test in list(vars(_tests).items()):
        if _name.startswith("test_") and callable(_test):
            try:
                _test()
            except BaseException as _exc:
                _outcomes.append([_name, _where(_exc)])
            else:
                _outcomes.append([_name, ""])
_outcomes
"""

_DRY_RUNNER = _PRELUDE + """
from {code} import {entry} as _entry

_outputs = []
for _inputs in _json.loads({examples!r}):
    try:
        _outputs.append(["ok", _json.loads(_json.dumps(_entry(**_inputs), allow_nan=False))])
    except BaseException as _exc:
        _outputs.append(["error", _where(_exc)])
_outputs
"""


def entry_program(revision: Revision, inputs: Sequence[Mapping[str, Any]]) -> str:
    """A program calling ``revision``'s entry function once with each of ``inputs``. Its
    value lists, per call, ``["ok", output]`` (the output as JSON data) or ``["error",
    "<ExceptionType> at main.py line N"]`` (an output that is no JSON value is a
    ``TypeError`` or ``ValueError``)."""
    return _DRY_RUNNER.format(files=_files(revision), code=_module(CODE_FILE),
                              entry=revision.procedure.entry,
                              examples=json.dumps(list(inputs)))


def _module(file: str) -> str:
    return file.removesuffix(".py")


def _files(revision: Revision) -> str:
    return json.dumps({CODE_FILE: revision.code, TESTS_FILE: revision.tests})


def run_in_scratch(athena: Athena, programs: Sequence[str], policy: Policy
                   ) -> list[ExecutionResult]:
    """Run ``programs`` one after another under ``policy`` in one fresh scratch scope
    (each sees what the ones before it wrote), stopping after the first that does not end
    ``ok``; then forget that scope, whatever happened. Returns the results."""
    scope = f"{SCRATCH_PREFIX}{secrets.token_hex(8)}"
    results: list[ExecutionResult] = []
    try:
        for code in programs:
            results.append(athena.execute(code, policy=policy.to_dict(), scope=scope))
            if not results[-1].ok:
                break
        return results
    finally:
        athena.forget(everything=True, scope=scope)


def _in_scratch(athena: Athena, code: str, policy: Policy) -> ExecutionResult:
    """Run ``code`` under ``policy`` in a fresh scratch scope, then forget that scope."""
    return run_in_scratch(athena, [code], policy)[0]


def _failed_run(result: ExecutionResult) -> str:
    error = f" ({result.error.type})" if result.error is not None else ""
    return f"the sandboxed run ended with status {result.status}{error}"


def _run_tests(athena: Athena, revision: Revision, policy: Policy
               ) -> tuple[ValidationCheck, tuple[TestOutcome, ...]]:
    code = _TEST_RUNNER.format(files=_files(revision), tests=_module(TESTS_FILE))
    result = _in_scratch(athena, code, policy)
    value = result.value
    if not result.ok or not (isinstance(value, str) or _pairs(value)):
        return ValidationCheck("tests", False, _failed_run(result)), ()
    if isinstance(value, str):
        return ValidationCheck("tests", False, value), ()
    outcomes = tuple(TestOutcome(name, not error, error) for name, error in value)
    if not outcomes:
        return ValidationCheck("tests", False, "untested: test_main.py defines no test_* "
                                               "function"), ()
    failed = [outcome for outcome in outcomes if not outcome.passed]
    detail = f"{len(outcomes) - len(failed)} of {len(outcomes)} passed"
    if failed:
        detail += "; failed: " + ", ".join(f"{outcome.name} ({outcome.error})"
                                           for outcome in failed[:5])
    return ValidationCheck("tests", not failed, detail), outcomes


def _pairs(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
        for item in value)


def _dry_run(athena: Athena, revision: Revision, policy: Policy,
             examples: tuple[Example, ...]) -> ValidationCheck:
    if not examples:
        return ValidationCheck("dry_run", False, "the manifest declares no examples to "
                                                 "dry-run")
    code = entry_program(revision, [example.inputs for example in examples])
    result = _in_scratch(athena, code, policy)
    outputs = result.value
    if not result.ok or not (isinstance(outputs, list) and len(outputs) == len(examples)):
        return ValidationCheck("dry_run", False, _failed_run(result))
    problems = []
    for number, (example, output) in enumerate(zip(examples, outputs, strict=True), 1):
        status, value = output
        if status != "ok":
            problems.append(f"example {number} raised {value}")
        elif example.expected is not NO_EXPECTED and value != example.expected:
            problems.append(f"example {number} returned other than its expected output")
    if problems:
        return ValidationCheck("dry_run", False, "; ".join(problems[:5]))
    return ValidationCheck("dry_run", True, f"{len(examples)} of {len(examples)} examples "
                                            "succeeded")


# --- confidence ----------------------------------------------------------------------------

def confidence(report: ValidationReport | None, stats: RunStats | None = None) -> float:
    """How far to trust a version, in [0, 1], from its report and its real runs only.

    - Not verified (no report, or a check failed or was skipped): ``0.2 x`` the share of
      its checks that passed, so always below 0.2.
    - Verified: a base of ``0.3 + 0.3 * p / (n + 2)`` for ``p`` of ``n`` tests passed
      (below 0.6; more tests, more trust), blended with the success rate of its real
      runs, which weighs ``runs / (runs + 10)``: many successful runs raise it towards 1,
      many failed ones lower it towards 0.
    """
    stats = stats or RunStats()
    if report is None or not report.checks:
        return 0.0
    if not report.passed:
        return 0.2 * sum(check.passed for check in report.checks) / len(report.checks)
    base = 0.3 + 0.3 * report.tests_passed / (len(report.tests) + 2)
    if not stats.runs:
        return base
    weight = stats.runs / (stats.runs + 10)
    return base * (1 - weight) + weight * stats.successes / stats.runs
