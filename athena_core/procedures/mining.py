"""Mining the audit log for programs, and runs of calls within them, repeated with
different literals.

A program's **shape** is its syntax tree with every literal that could be an input (a
string, integer, float or boolean constant outside f-strings and ``match`` patterns)
replaced by a placeholder of its type, together with the sequence of Athena operations it
called (the audit record's ``calls``). Programs of one shape differ only in those
literals. :func:`mine` groups the successful Python programs of the audit log by shape
and returns the groups run with at least ``min_runs`` different sets of literals, in the
order their first run was recorded.

It also mines **runs of calls within programs**. A program's *units* are its top-level
statements after its leading imports, except that a top-level expression that is a list
or tuple display (``[athena.a(...), athena.b(...)]``, a program whose value is the list of
its calls' results) contributes each of its elements instead. A *run* is two or more
consecutive units of one kind (statements, or elements of one display), each calling an
Athena operation, that use no name bound outside them (besides the imports and the
builtins): it is the program :func:`fragment` writes - the leading imports and those
statements, or those elements in a display of the same kind - and its shape is that
program's shape, with the operations it names in the order Python evaluates them. Runs
and whole programs of one shape are grouped together (a whole program made of one such
run is the same shape). A run's group is left out when a longer group has the same
support: every one of its runs is extended, one unit to the left or to the right, into
the same longer shape, or it is the call part of whole programs, once in each, that all
have one shape and nothing else has.

Only ``execution`` records are mined, and only those with status ``ok``, language
``python``, their program text kept (``[audit] keep_programs``), at least one operation
called, and not run by the gate or the learner (scratch scopes ``_verify/...``) or as a
procedure's run (caller ``procedure:...``): a procedure is not learned from itself.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import attrs

from athena_core._ast import parse_python
from athena_core.procedures.gate import SCRATCH_PREFIX, _athena_aliases

if TYPE_CHECKING:
    from athena_core.audit.log import AuditLog, AuditRecord

__all__ = ["LITERAL_TYPES", "MAX_RUN", "MinedRun", "Shape", "Slot", "Unit", "fragment",
           "literals", "mine", "names_in", "program_units"]

#: Literal types that may become parameters, by the annotation they get.
LITERAL_TYPES: dict[type, str] = {str: "str", bool: "bool", int: "int", float: "float"}
#: Audit records read per query.
_PAGE = 1_000
#: The caller of a procedure's run (see :mod:`athena_core.procedures.service`).
_PROCEDURE_CALLER = "procedure:"
#: Longest run of calls within a program that is mined (in units).
MAX_RUN = 16
_BUILTINS = frozenset(dir(builtins))


@attrs.frozen
class Slot:
    """One literal position of a shape: its type and where it is in the first program."""

    type: str
    line: int
    column: int


@attrs.frozen
class MinedRun:
    """One successful run of a shape, from its audit record."""

    execution_id: str
    seq: int
    at: datetime
    scope: str
    program: str
    #: The literal of each slot of the shape, in slot order.
    values: tuple[Any, ...]
    #: Where the run of calls is in the program, ``(first unit, units)``; ``None``: the
    #: whole program. ``program`` is then the run's :func:`fragment`.
    part: tuple[int, int] | None = None
    #: Of a run of calls: the sha256 of the program it is in (its shape and literals),
    #: so that one run in different programs counts as different runs.
    context: str = ""


@attrs.frozen
class Shape:
    """Programs that differ only in their literals, and their runs."""

    #: sha256 of the abstracted syntax tree and the operations called.
    key: str
    calls: tuple[str, ...]
    slots: tuple[Slot, ...]
    #: Oldest first.
    runs: tuple[MinedRun, ...]

    def distinct_inputs(self) -> int:
        """How many different sets of literals its runs had; a run of calls counts once
        for each different program it is in."""
        return len({(_hashable(run.values), run.context) for run in self.runs})


def literals(tree: ast.AST) -> list[ast.Constant]:
    """The literals of ``tree`` that may become parameters, in a fixed order (depth
    first, children in field order): the same source gives the same list."""
    found: list[ast.Constant] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.JoinedStr | ast.pattern):
            return  # an f-string's text and a match pattern are structure
        if isinstance(node, ast.Constant) and type(node.value) in LITERAL_TYPES:
            found.append(node)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


class _Placeholder:
    """Stands in for a literal when a tree is dumped: its repr names only the type."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<literal {self.kind}>"


def _abstract(program: str) -> tuple[str, list[ast.Constant]] | None:
    """The dump of ``program``'s tree with its literals as placeholders, and the
    literals; ``None`` if it does not parse."""
    try:
        tree = parse_python(program)
    except (SyntaxError, ValueError):
        return None
    found = literals(tree)
    saved = [node.value for node in found]
    for node in found:
        node.value = cast(Any, _Placeholder(LITERAL_TYPES[type(node.value)]))
    dump = ast.dump(tree, annotate_fields=False)
    for node, value in zip(found, saved, strict=True):
        node.value = value
    return dump, found


def mine(audit: AuditLog, *, scope: str | None = None, since: datetime | str | None = None,
         min_runs: int = 3, progress: Callable[[int], None] | None = None) -> list[Shape]:
    """The shapes of the audit log's successful programs, and of the runs of calls within
    them, that ran with at least ``min_runs`` different sets of literals: first those
    that call two or more operations, then those that call one, each in the order of
    its first run (a longer run first among runs that start together).

    ``scope`` keeps only the runs of that scope; ``since`` those recorded from then on.
    ``progress(records_read)`` is called after each page of records.
    """
    groups: dict[str, list[tuple[MinedRun, tuple[str, ...], list[ast.Constant]]]] = {}
    whole_key: dict[str, str] = {}                 # execution id -> its program's shape
    at: dict[tuple[str, int, int], str] = {}       # (execution id, start, units) -> shape
    read = 0
    for record in _records(audit, scope=scope, since=since):
        read += 1
        if progress is not None and read % _PAGE == 0:
            progress(read)
        if not _minable(record):
            continue
        assert record.payload is not None
        abstracted = _abstract(record.payload)
        if abstracted is None:
            continue
        dump, found = abstracted
        key = _key(dump, record.calls)
        whole_key[record.id] = key
        context = _key(key, tuple(repr(item) for item in _hashable(
            tuple(node.value for node in found))))
        groups.setdefault(key, []).append((MinedRun(
            execution_id=record.id, seq=record.seq, at=record.at, scope=record.scope,
            program=record.payload, values=tuple(node.value for node in found)),
            record.calls, found))
        for part, text, named in _runs(parse_python(record.payload)):
            piece = _abstract(text)
            assert piece is not None
            if piece[0] == dump:  # the run is the whole program
                at[(record.id, *part)] = key
                continue
            run_key = at[(record.id, *part)] = _key(piece[0], named)
            groups.setdefault(run_key, []).append((MinedRun(
                execution_id=record.id, seq=record.seq, at=record.at, scope=record.scope,
                program=text, values=tuple(node.value for node in piece[1]), part=part,
                context=context),
                named, piece[1]))
    if progress is not None:
        progress(read)
    shapes = []
    for key, members in groups.items():
        _, calls, found = members[0]
        shape = Shape(key=key, calls=tuple(calls),
                      slots=tuple(Slot(LITERAL_TYPES[type(node.value)], node.lineno,
                                       node.col_offset) for node in found),
                      runs=tuple(run for run, _, _ in members))
        if shape.distinct_inputs() >= min_runs and not _subsumed(shape, groups, whole_key,
                                                                   at):
            shapes.append(shape)
    return sorted(shapes, key=lambda shape: (
        len(shape.calls) < 2, shape.runs[0].seq,
        *((0, 0) if shape.runs[0].part is None else (shape.runs[0].part[0],
                                                    -shape.runs[0].part[1]))))


def fragment(program: str, part: tuple[int, int]) -> str | None:
    """The program of the run of calls at ``part`` (``(first unit, units)``) of
    ``program``: its leading imports, then the run's statements, or its elements in a
    display of the same kind; ``None`` if there is no such run."""
    try:
        tree = parse_python(program)
    except (SyntaxError, ValueError):
        return None
    return next((text for found, text, _ in _runs(tree, only=part)), None)


def _key(dump: str, calls: tuple[str, ...]) -> str:
    return hashlib.sha256(json.dumps([dump, list(calls)]).encode("utf-8")).hexdigest()


def _runs(tree: ast.Module, only: tuple[int, int] | None = None
          ) -> Iterator[tuple[tuple[int, int], str, tuple[str, ...]]]:
    """Each run of calls of the program: its part, its :func:`fragment` and the
    operations it names, in the order Python evaluates them."""
    imports, units = program_units(tree)
    aliases = _athena_aliases(tree)
    named = [_operations(node, aliases) for _, node, _ in units]
    for start in range(len(units)):
        for length in range(2, min(MAX_RUN, len(units) - start) + 1):
            last = start + length - 1
            if units[last][0] != units[start][0] or not named[last]:
                break
            if not named[start] or (only is not None and (start, length) != only):
                continue
            nodes = [node for _, node, _ in units[start:last + 1]]
            kind = units[start][2]
            statements = [cast(ast.stmt, node) for node in nodes] if kind is None else [
                ast.Expr(kind(elts=nodes, ctx=ast.Load()))]
            module = ast.Module(body=[*imports, *statements], type_ignores=[])
            if _free_names(module):
                continue
            calls = tuple(call for found in named[start:last + 1] for call in found)
            yield (start, length), ast.unparse(ast.fix_missing_locations(module)), calls


#: A unit of a program: ``(group, node, display kind)``. Units of one group are
#: consecutive statements (kind ``None``) or elements of one list or tuple display (kind
#: ``ast.List`` or ``ast.Tuple``).
Unit = tuple[int, ast.AST, type | None]


def program_units(tree: ast.Module) -> tuple[list[ast.stmt], list[Unit]]:
    """The program's leading imports, and its units (see the module's documentation),
    numbered from 0 as a run's ``part`` counts them."""
    imports: list[ast.stmt] = []
    body = list(tree.body)
    while body and isinstance(body[0], ast.Import | ast.ImportFrom):
        imports.append(body.pop(0))
    units: list[Unit] = []
    group = 0
    for statement in body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value,
                                                          ast.List | ast.Tuple):
            group += 1
            units += [(group, element, type(statement.value))
                      for element in statement.value.elts]
            group += 1
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            group += 1
        else:
            units.append((group, statement, None))
    return imports, units


def _operations(node: ast.AST, aliases: dict[str, str]) -> tuple[str, ...]:
    """The operations ``node`` names in calls through the ``athena`` module, in the order
    Python evaluates them (arguments before the call that takes them)."""
    found: list[str] = []

    def visit(current: ast.AST) -> None:
        for child in ast.iter_child_nodes(current):
            visit(child)
        if isinstance(current, ast.Call):
            parts: list[str] = []
            function = current.func
            while isinstance(function, ast.Attribute):
                parts.insert(0, function.attr)
                function = function.value
            if isinstance(function, ast.Name) and function.id in aliases:
                prefix = aliases[function.id]
                found.append(".".join([prefix, *parts] if prefix else parts))

    visit(node)
    return tuple(found)


def _free_names(module: ast.Module) -> set[str]:
    """The names ``module`` reads that it does not bind, other than the builtins."""
    bound, read = names_in(module)
    return read - bound - _BUILTINS


def names_in(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The names ``tree`` binds (assignments, imports, definitions, arguments), and those
    it reads."""
    bound: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound, read


def _subsumed(shape: Shape, groups: Mapping[str, Sequence[object]],
              whole_key: Mapping[str, str], at: Mapping[tuple[str, int, int], str]) -> bool:
    """Whether a longer shape has the same runs as ``shape``, a shape of runs of calls."""
    parts = [(run.execution_id, run.part) for run in shape.runs]
    if any(part is None for _, part in parts):
        return False
    spans = [(execution, part) for execution, part in parts if part is not None]
    for step in (0, 1):  # extended to the right, to the left
        longer = {at.get((execution, start - step, length + 1))
                  for execution, (start, length) in spans}
        if len(longer) == 1 and None not in longer:
            return True
    executions = {execution for execution, _ in spans}
    programs = {whole_key[execution] for execution in executions}
    return len(executions) == len(spans) and len(programs) == 1 and len(
        groups[programs.pop()]) == len(spans)


def _records(audit: AuditLog, *, scope: str | None,
             since: datetime | str | None) -> Iterator[AuditRecord]:
    """Successful execution records, oldest first, a page at a time."""
    after: int | None = None
    while True:
        page = audit.records(kind="execution", status="ok", scope=scope, since=since,
                             limit=_PAGE, order="asc", after=after)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].seq


def _minable(record: AuditRecord) -> bool:
    return (record.payload is not None and record.language == "python"
            and bool(record.calls) and not record.scope.startswith(SCRATCH_PREFIX)
            and not record.caller.startswith(_PROCEDURE_CALLER))


def _hashable(values: tuple[Any, ...]) -> tuple[tuple[str, Any], ...]:
    """``values`` with their types, so that ``1``, ``1.0`` and ``True`` differ."""
    return tuple((type(value).__name__, value) for value in values)
