"""The knowledge graph in export files: one line per type, cascade rule, entity and fact.

Lines (after the memories and sensitive values of an export, see
:mod:`athena_core.transfer`): ``{"graph_type": {...}}``, ``{"graph_cascade": {...}}``,
``{"graph_entity": {...}}`` (with its aliases and the ids of the memories that mention
it) and ``{"graph_fact": {...}}`` (every stored fact, retracted ones too, with both
intervals, the ids of the memories that asserted it and its cascade marks), so an import
restores what was believed when, not only what is believed now. Names and values are
written as stored (sensitive values as placeholders).

An import checks each line's fields when it reads it (:func:`check_line`) and writes them
in the import's one transaction (:func:`write_lines`), after the memories: a fact whose
id is stored is skipped, an entity or declaration already stored is kept; a fact naming an
entity, or an entity or fact naming a memory, that is neither in the file nor stored in
its scope raises :class:`~athena_core.errors.ImportFormatError` and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any

from sqlalchemy import insert, select

from athena_core import _ids
from athena_core._time import as_utc, isoformat
from athena_core.errors import AthenaError, ImportFormatError
from athena_core.graph import store as rows
from athena_core.graph.model import (
    MAX_NAME_CHARS,
    MAX_PREDICATE_CHARS,
    MAX_TYPE_CHARS,
    check_interval,
    check_label,
)
from athena_core.storage.models import (
    GraphAliasRow,
    GraphCascadeRow,
    GraphEntityRow,
    GraphFactRow,
    GraphFactSourceRow,
    GraphMentionRow,
    GraphStaleRow,
    GraphTypeRow,
    MemoryRow,
)

__all__ = ["EXPORTED_ROWS", "KINDS", "check_line", "export_lines", "write_export",
           "write_lines"]

#: The keys of graph lines, in the order an export writes (and an import applies) them.
KINDS = ("graph_type", "graph_cascade", "graph_entity", "graph_fact")
#: The tables an export writes a line per row of (one kind each, in :data:`KINDS` order).
EXPORTED_ROWS = (GraphTypeRow, GraphCascadeRow, GraphEntityRow, GraphFactRow)
_facts = GraphFactRow.__table__


def export_lines(db: Any, scope: str | None) -> Iterator[dict[str, Any]]:
    """The graph lines of ``scope`` (or every scope), in :data:`KINDS` order."""
    def where(model: Any) -> Any:
        return () if scope is None else (model.scope == scope,)

    memory_ids = _memory_ids(db)
    for row in db.execute(select(GraphTypeRow).where(*where(GraphTypeRow))
                          .order_by(GraphTypeRow.scope, GraphTypeRow.name)).scalars():
        yield {"graph_type": {"scope": row.scope, "name": row.name,
                              "functional": row.functional,
                              "created_at": isoformat(row.created_at)}}
    for row in db.execute(select(GraphCascadeRow).where(*where(GraphCascadeRow))
                          .order_by(GraphCascadeRow.scope, GraphCascadeRow.created_at)
                          ).scalars():
        yield {"graph_cascade": {"scope": row.scope, "trigger": row.trigger,
                                 "dependent": row.dependent,
                                 "created_at": isoformat(row.created_at)}}
    names: dict[int, str] = {}
    for row in db.execute(select(GraphEntityRow).where(*where(GraphEntityRow))
                          .order_by(GraphEntityRow.pk)).scalars():
        names[row.pk] = row.name
        aliases = [alias for (alias,) in db.execute(
            select(GraphAliasRow.alias).where(GraphAliasRow.entity_pk == row.pk)
            .order_by(GraphAliasRow.pk))]
        mentions = [memory_ids(key) for (key,) in db.execute(
            select(GraphMentionRow.memory_pk).where(GraphMentionRow.entity_pk == row.pk)
            .order_by(GraphMentionRow.memory_pk))]
        yield {"graph_entity": {"scope": row.scope, "name": row.name, "type": row.type,
                                "extracted": row.extracted,
                                "created_at": isoformat(row.created_at), "aliases": aliases,
                                "mentions": mentions}}
    for row in db.execute(select(_facts).where(*where(GraphFactRow))
                          .order_by(_facts.c.pk)):
        sources = [memory_ids(key) for (key,) in db.execute(
            select(GraphFactSourceRow.memory_pk).where(GraphFactSourceRow.fact_pk == row.pk)
            .order_by(GraphFactSourceRow.memory_pk))]
        stale = [{"cause": mark.cause, "marked_at": isoformat(mark.marked_at)}
                 for mark in db.execute(select(GraphStaleRow).where(
                     GraphStaleRow.fact_pk == row.pk).order_by(GraphStaleRow.pk)).scalars()]
        yield {"graph_fact": {
            "id": row.id, "scope": row.scope, "subject": names[row.subject_pk],
            "predicate": row.predicate,
            "object": None if row.object_pk is None else names[row.object_pk],
            "value": row.value, "attributes": row.attributes or {},
            **{name: isoformat(getattr(row, name)) for name in _TIMES},
            "retracted_by": row.retracted_by, "derived_from": row.derived_from,
            "reason": row.reason, "sources": sources, "stale": stale}}


_TIMES = ("valid_from", "valid_to", "recorded_at", "retracted_at")


def _memory_ids(db: Any) -> Callable[[int], str]:
    def memory_id(key: int) -> str:
        return str(db.execute(select(MemoryRow.id).where(MemoryRow.pk == key)).scalar_one())
    return memory_id


def check_line(kind: str, value: Any, *, scope: Callable[[str], str]) -> dict[str, Any]:
    """The checked record of a graph line of ``kind``; ``scope(name)`` checks its scope
    (bound imports). Raises :class:`ImportFormatError` naming the field (without a line:
    the caller adds it)."""
    if not isinstance(value, Mapping):
        raise ImportFormatError(f"{kind} must be an object.", field=kind)
    record = dict(value)
    try:
        record["scope"] = scope(_text(record, "scope", kind, 255))
        if kind == "graph_type":
            _text(record, "name", kind, MAX_PREDICATE_CHARS)
            _flag(record, "functional", kind)
        elif kind == "graph_cascade":
            _text(record, "trigger", kind, MAX_PREDICATE_CHARS)
            _text(record, "dependent", kind, MAX_PREDICATE_CHARS)
        elif kind == "graph_entity":
            _text(record, "name", kind, MAX_NAME_CHARS)
            _text(record, "type", kind, MAX_TYPE_CHARS)
            _flag(record, "extracted", kind)
            for field in ("aliases", "mentions"):
                items = record.get(field, [])
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise ImportFormatError(f"{kind}.{field} must be a list of strings.",
                                            field=f"{kind}.{field}")
                record[field] = items
        else:
            _check_fact(record)
        record["created_at"] = as_utc(record.get("created_at") or record.get("recorded_at")
                                      or "1970-01-01T00:00:00Z", name=f"{kind}.created_at")
    except ImportFormatError:
        raise
    except AthenaError as exc:
        raise ImportFormatError(exc.message, field=f"{kind}.{getattr(exc, 'argument', '')}"
                                ) from None
    return record


def _check_fact(record: dict[str, Any]) -> None:
    kind = "graph_fact"
    if not _ids.is_id(record.get("id")):
        raise ImportFormatError("graph_fact.id must be a 26-character id.", field="graph_fact.id")
    _text(record, "subject", kind, MAX_NAME_CHARS)
    _text(record, "predicate", kind, MAX_PREDICATE_CHARS)
    if record.get("object") is not None:
        _text(record, "object", kind, MAX_NAME_CHARS)
    start, end = check_interval(record.get("valid_from"), record.get("valid_to"),
                                default_from=as_utc("1970-01-01T00:00:00Z"))
    record["valid_from"], record["valid_to"] = start, end
    record["recorded_at"] = as_utc(record.get("recorded_at") or "", name="recorded_at")
    if record.get("retracted_at") is not None:
        record["retracted_at"] = as_utc(record["retracted_at"], name="retracted_at")
        if record["retracted_at"] < record["recorded_at"]:
            raise ImportFormatError("graph_fact.retracted_at is before its recorded_at.",
                                    field="graph_fact.retracted_at")
    for field in ("retracted_by", "derived_from"):
        if record.get(field) is not None and not _ids.is_id(record[field]):
            raise ImportFormatError(f"graph_fact.{field} must be a fact id or null.",
                                    field=f"graph_fact.{field}")
    if not isinstance(record.get("attributes", {}), dict):
        raise ImportFormatError("graph_fact.attributes must be an object.",
                                field="graph_fact.attributes")
    stale = record.get("stale", [])
    if not isinstance(stale, list) or not all(
            isinstance(mark, dict) and _ids.is_id(mark.get("cause")) for mark in stale):
        raise ImportFormatError("graph_fact.stale must be a list of {cause, marked_at}.",
                                field="graph_fact.stale")
    record["stale"] = [{"cause": mark["cause"],
                        "marked_at": as_utc(mark.get("marked_at") or "", name="marked_at")}
                       for mark in stale]
    sources = record.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise ImportFormatError("graph_fact.sources must be a list of memory ids.",
                                field="graph_fact.sources")


def _text(record: dict[str, Any], field: str, kind: str, limit: int) -> str:
    try:
        record[field] = check_label(record.get(field), argument=field, limit=limit,
                                    what="a string")
    except AthenaError:
        raise ImportFormatError(
            f"{kind}.{field} must be a non-empty string of at most {limit} characters.",
            field=f"{kind}.{field}") from None
    return str(record[field])


def _flag(record: dict[str, Any], field: str, kind: str) -> None:
    if not isinstance(record.get(field, False), bool):
        raise ImportFormatError(f"{kind}.{field} must be true or false.",
                                field=f"{kind}.{field}")


def write_lines(db: Any, lines: Sequence[tuple[int, str, dict[str, Any]]],
                conceal: Callable[[Any, str], Any]) -> int:
    """Write checked graph ``lines`` (line number, kind, record; in :data:`KINDS` order
    within the file) in transaction ``db``; return how many facts were new. ``conceal``
    puts a value in the form the store keeps it."""
    written = 0
    for number, kind, record in sorted(lines, key=lambda item: (KINDS.index(item[1]),
                                                                 item[0])):
        scope = record["scope"]
        try:
            if kind == "graph_type":
                rows.declare(db, scope, record["name"], functional=record.get(
                    "functional", False), now=record["created_at"])
            elif kind == "graph_cascade":
                rows.add_cascade(db, scope, record["trigger"], record["dependent"],
                                 now=record["created_at"])
            elif kind == "graph_entity":
                _write_entity(db, scope, record, conceal)
            else:
                written += _write_fact(db, scope, record, conceal)
        except ImportFormatError as exc:
            raise ImportFormatError(exc.message, line=number, field=exc.field) from None
        except AthenaError as exc:
            raise ImportFormatError(exc.message, line=number, field=kind) from None
    return written


def _write_entity(db: Any, scope: str, record: dict[str, Any],
                  conceal: Callable[[Any, str], Any]) -> None:
    pk, _ = rows.add_entity(db, scope, conceal(record["name"], scope), record["type"],
                            extracted=record.get("extracted", False), now=record["created_at"])
    for alias in record["aliases"]:
        rows.add_alias(db, scope, pk, conceal(alias, scope))
    linked = {key for (key,) in db.execute(select(GraphMentionRow.memory_pk).where(
        GraphMentionRow.entity_pk == pk))}
    new = [key for key in _memory_keys(db, scope, record["mentions"], "graph_entity.mentions")
           if key not in linked]
    if new:
        db.execute(insert(GraphMentionRow), [{"memory_pk": key, "entity_pk": pk}
                                             for key in new])


def _write_fact(db: Any, scope: str, record: dict[str, Any],
                conceal: Callable[[Any, str], Any]) -> int:
    if db.execute(select(_facts.c.pk).where(_facts.c.id == record["id"])).first():
        return 0
    subject = _entity(db, scope, conceal(record["subject"], scope), "graph_fact.subject")
    obj = None if record.get("object") is None else _entity(
        db, scope, conceal(record["object"], scope), "graph_fact.object")
    result = db.execute(insert(GraphFactRow).values(
        id=record["id"], scope=scope, subject_pk=subject, predicate=record["predicate"],
        object_pk=obj, value=conceal(record.get("value"), scope),
        attributes=conceal(record.get("attributes") or {}, scope),
        valid_from=record["valid_from"], valid_to=record["valid_to"],
        recorded_at=record["recorded_at"], retracted_at=record.get("retracted_at"),
        retracted_by=record.get("retracted_by"), derived_from=record.get("derived_from"),
        reason=conceal(record.get("reason"), scope)))
    pk = int(result.inserted_primary_key[0])
    keys = _memory_keys(db, scope, record.get("sources", []), "graph_fact.sources")
    if keys:
        db.execute(insert(GraphFactSourceRow), [{"fact_pk": pk, "memory_pk": key}
                                                for key in dict.fromkeys(keys)])
    if record["stale"]:
        db.execute(insert(GraphStaleRow), [{"fact_pk": pk, **mark} for mark in record["stale"]])
    return 1


def _entity(db: Any, scope: str, name: str, field: str) -> int:
    pk = rows.entity_pk(db, scope, name)
    if pk is None:
        raise ImportFormatError(
            "the fact names an entity that is neither a graph_entity line of the file nor "
            "stored in its scope.", field=field)
    return pk


def _memory_keys(db: Any, scope: str, ids: Sequence[str], field: str) -> list[int]:
    if not ids:
        return []
    found = dict(db.execute(select(MemoryRow.id, MemoryRow.pk).where(
        MemoryRow.scope == scope, MemoryRow.id.in_(list(ids)))).all())
    if len(found) != len(set(ids)):
        raise ImportFormatError(
            "a memory id it names is neither a memory of the file nor stored in its scope.",
            field=field)
    return [found[memory_id] for memory_id in ids]


def write_export(db: Any, out: IO[str], scope: str | None,
                 dumps: Callable[[Mapping[str, Any]], str]) -> int:
    """Write the graph lines of ``scope`` to ``out``; return how many."""
    count = 0
    for line in export_lines(db, scope):
        out.write(dumps(line) + "\n")
        count += 1
    return count

