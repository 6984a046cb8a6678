"""Mining the audit log for programs run again and again with different literals.

A program's **shape** is its syntax tree with every literal that could be an input (a
string, integer, float or boolean constant outside f-strings and ``match`` patterns)
replaced by a placeholder of its type, together with the sequence of Athena operations it
called (the audit record's ``calls``). Programs of one shape differ only in those
literals. :func:`mine` groups the successful Python programs of the audit log by shape
and returns the groups run with at least ``min_runs`` different sets of literals, in the
order their first run was recorded.

Only ``execution`` records are mined, and only those with status ``ok``, language
``python``, their program text kept (``[audit] keep_programs``), at least one operation
called, and not run by the gate or the learner (scratch scopes ``_verify/...``) or as a
procedure's run (caller ``procedure:...``): a procedure is not learned from itself.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import attrs

from athena_core.procedures.gate import SCRATCH_PREFIX

if TYPE_CHECKING:
    from athena_core.audit.log import AuditLog, AuditRecord

__all__ = ["LITERAL_TYPES", "MinedRun", "Shape", "Slot", "literals", "mine"]

#: Literal types that may become parameters, by the annotation they get.
LITERAL_TYPES: dict[type, str] = {str: "str", bool: "bool", int: "int", float: "float"}
#: Audit records read per query.
_PAGE = 1_000
#: The caller of a procedure's run (see :mod:`athena_core.procedures.service`).
_PROCEDURE_CALLER = "procedure:"


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
        """How many different sets of literals its runs had."""
        return len({_hashable(run.values) for run in self.runs})


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
        tree = ast.parse(program)
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
    """The shapes of the audit log's successful programs that ran with at least
    ``min_runs`` different sets of literals, in the order of their first run.

    ``scope`` keeps only the runs of that scope; ``since`` those recorded from then on.
    ``progress(records_read)`` is called after each page of records.
    """
    groups: dict[str, list[tuple[MinedRun, tuple[str, ...], list[ast.Constant]]]] = {}
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
        key = hashlib.sha256(json.dumps([dump, list(record.calls)]).encode("utf-8")
                             ).hexdigest()
        run = MinedRun(execution_id=record.id, seq=record.seq, at=record.at,
                       scope=record.scope, program=record.payload,
                       values=tuple(node.value for node in found))
        groups.setdefault(key, []).append((run, record.calls, found))
    if progress is not None:
        progress(read)
    shapes = []
    for key, members in groups.items():
        _, calls, found = members[0]
        shape = Shape(key=key, calls=tuple(calls),
                      slots=tuple(Slot(LITERAL_TYPES[type(node.value)], node.lineno,
                                       node.col_offset) for node in found),
                      runs=tuple(run for run, _, _ in members))
        if shape.distinct_inputs() >= min_runs and found:
            shapes.append(shape)
    return sorted(shapes, key=lambda shape: shape.runs[0].seq)


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
