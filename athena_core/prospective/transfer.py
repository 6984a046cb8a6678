"""Intentions in export files: one ``{"intention": {...}}`` line per task, goal or
reminder, with its dependencies, triggers (schedule or condition, next fire, state) and
run records, so an import restores them as they were, due instants included.

An import checks each line as ``prospective.add`` checks its arguments (kinds, statuses,
schedules and conditions re-parsed, the scope the import is bound to) and resolves a
``parent`` or ``depends_on`` to an intention of the same scope, in the file or stored;
an intention whose id is stored is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from athena_core._time import as_utc, isoformat
from athena_core.errors import AthenaError, ImportFormatError
from athena_core.prospective.cues import Condition
from athena_core.prospective.schedule import Schedule
from athena_core.prospective.service import (
    KINDS,
    MISFIRE_POLICIES,
    PRIORITIES,
    STATUSES,
)
from athena_core.storage.models import (
    TaskDependencyRow,
    TaskRow,
    TriggerCueRow,
    TriggerRow,
    TriggerRunRow,
)
from athena_core.storage.queries import insert_row

if TYPE_CHECKING:
    from athena_core.memory import MemoryStore

__all__ = ["check_intention", "intention_record", "write_intentions"]

_ITEM_TIMES = ("due_at", "created_at", "updated_at", "finished_at")
_RUN_TIMES = ("scheduled_for", "fired_at", "delivered_at")


def intention_record(session: Session, row: TaskRow) -> dict[str, Any]:
    """The ``intention`` line of ``row``: the intention with its dependencies, triggers
    and runs."""
    return {"intention": _record(session, row)}


def _record(session: Session, row: TaskRow) -> dict[str, Any]:
    ids = dict(session.execute(select(TaskRow.pk, TaskRow.id).join(
        TaskDependencyRow, TaskDependencyRow.depends_on_pk == TaskRow.pk).where(
        TaskDependencyRow.item_pk == row.pk)).all())
    parent = session.scalar(select(TaskRow.id).where(TaskRow.pk == row.parent_pk)) \
        if row.parent_pk else None
    triggers = list(session.scalars(select(TriggerRow).where(TriggerRow.item_pk == row.pk)
                                    .order_by(TriggerRow.pk)))
    trigger_ids = {trigger.pk: trigger.id for trigger in triggers}
    runs = session.scalars(select(TriggerRunRow).where(TriggerRunRow.item_pk == row.pk)
                           .order_by(TriggerRunRow.pk))
    return {
        "id": row.id, "scope": row.scope, "kind": row.kind, "title": row.title,
        "notes": row.notes, "status": row.status, "priority": PRIORITIES[row.priority],
        "parent": parent, "depends_on": sorted(ids.values()),
        "due_at": isoformat(row.due_at), "grace_seconds": row.grace_seconds,
        "metadata": dict(row.meta or {}), "outcome": row.outcome,
        "created_at": isoformat(row.created_at), "updated_at": isoformat(row.updated_at),
        "finished_at": isoformat(row.finished_at),
        "triggers": [{"id": trigger.id, "kind": trigger.kind, "spec": dict(trigger.spec),
                      "misfire": trigger.misfire, "grace_seconds": trigger.grace_seconds,
                      "next_fire": isoformat(trigger.next_fire), "waiting": trigger.waiting,
                      "status": trigger.status, "once": trigger.once, "fires": trigger.fires,
                      "created_at": isoformat(trigger.created_at)} for trigger in triggers],
        "runs": [{"id": run.id, "trigger": trigger_ids.get(run.trigger_pk or -1),
                  "occurrence": run.occurrence, "scheduled_for": isoformat(run.scheduled_for),
                  "fired_at": isoformat(run.fired_at), "outcome": run.outcome,
                  "instants": run.instants, "detail": dict(run.detail or {}),
                  "delivered_to": run.delivered_to,
                  "delivered_at": isoformat(run.delivered_at)} for run in runs]}


def _need(record: Mapping[str, Any], name: str, kind: type | tuple[type, ...],
          optional: bool = False) -> Any:
    value = record.get(name)
    if (value is None and optional) or isinstance(value, kind):
        return value
    raise ImportFormatError(f"intention.{name} is missing or of the wrong type.",
                            field=f"intention.{name}")


def check_intention(store: MemoryStore, number: int, value: Any) -> dict[str, Any]:
    """Line ``number``'s intention, checked (raises ``ImportFormatError`` naming the
    line and field); times are parsed when written."""
    try:
        if not isinstance(value, Mapping):
            raise ImportFormatError("intention must be an object.", field="intention")
        record = dict(value)
        store.memory_id(_need(record, "id", str))
        store.scope(_need(record, "scope", str))
        store.text(_need(record, "title", str), name="title")
        if _need(record, "notes", str, optional=True) is not None:
            store.text(record["notes"], name="notes")
        for name, allowed in (("kind", KINDS), ("status", STATUSES),
                              ("priority", PRIORITIES)):
            if _need(record, name, str) not in allowed:
                raise ImportFormatError(f"intention.{name} must be one of "
                                        f"{', '.join(allowed)}.", field=f"intention.{name}")
        store.metadata(_need(record, "metadata", dict))
        _need(record, "grace_seconds", int)
        _need(record, "parent", str, optional=True)
        for other in _need(record, "depends_on", list):
            store.memory_id(other, name="depends_on")
        for name in _ITEM_TIMES:
            if _need(record, name, str, optional=name != "created_at") is not None:
                as_utc(record[name], name=name)
        for trigger in _need(record, "triggers", list):
            _check_trigger(store, trigger)
        for run in _need(record, "runs", list):
            if not isinstance(run, Mapping):
                raise ImportFormatError("each run must be an object.", field="intention.runs")
            store.memory_id(_need(run, "id", str))
            _need(run, "occurrence", str)
            _need(run, "outcome", str)
            _need(run, "instants", int)
            _need(run, "detail", dict)
            for name in _RUN_TIMES:
                if _need(run, name, str, optional=name != "fired_at") is not None:
                    as_utc(run[name], name=name)
        return record
    except ImportFormatError as exc:
        raise ImportFormatError(exc.message, line=number, field=exc.field) from None
    except AthenaError as exc:
        raise ImportFormatError(exc.message, line=number,
                                field=f"intention.{getattr(exc, 'argument', None) or ''}"
                                ) from None


def _check_trigger(store: MemoryStore, trigger: Any) -> None:
    if not isinstance(trigger, Mapping):
        raise ImportFormatError("each trigger must be an object.", field="intention.triggers")
    store.memory_id(_need(trigger, "id", str))
    spec = _need(trigger, "spec", dict)
    if _need(trigger, "kind", str) in ("event", "context"):
        Condition.parse(spec)
    else:
        Schedule.from_spec(spec)
    if _need(trigger, "misfire", str) not in MISFIRE_POLICIES:
        raise ImportFormatError("trigger misfire must be one of "
                                f"{', '.join(MISFIRE_POLICIES)}.", field="intention.triggers")
    for name, kind in (("grace_seconds", int), ("waiting", bool), ("status", str),
                       ("once", bool), ("fires", int), ("created_at", str)):
        _need(trigger, name, kind)
    if _need(trigger, "next_fire", str, optional=True) is not None:
        as_utc(trigger["next_fire"], name="next_fire")


def _time(value: str | None) -> datetime | None:
    return None if value is None else as_utc(value)


def write_intentions(session: Session, records: Sequence[tuple[int, Mapping[str, Any]]]
                     ) -> tuple[int, int]:
    """Write checked intention ``records`` (with their line numbers); ``(imported,
    skipped)``. A ``parent`` or ``depends_on`` that is no intention of the record's
    scope, in the file or stored, raises ``ImportFormatError`` (the caller's
    transaction then writes nothing)."""
    stored = {row.id: row for row in session.scalars(select(TaskRow).where(
        TaskRow.id.in_([record["id"] for _, record in records])))} if records else {}
    keys: dict[str, tuple[int, str]] = {}
    new = [(number, record) for number, record in records if record["id"] not in stored]
    for _, record in new:
        keys[record["id"]] = (insert_row(session, TaskRow, {
            "id": record["id"], "scope": record["scope"], "kind": record["kind"],
            "title": record["title"], "notes": record["notes"], "status": record["status"],
            "priority": PRIORITIES.index(record["priority"]), "parent_pk": None,
            "due_at": _time(record.get("due_at")), "grace_seconds": record["grace_seconds"],
            "overdue_at": None, "metadata": record["metadata"], "outcome": record.get("outcome"),
            "created_at": _time(record["created_at"]),
            "updated_at": _time(record.get("updated_at")) or _time(record["created_at"]),
            "finished_at": _time(record.get("finished_at"))}), record["scope"])
    for number, record in new:
        pk, scope = keys[record["id"]]
        links = ([("parent", record["parent"])] if record.get("parent") else []) + \
            [("depends_on", other) for other in record["depends_on"]]
        for field, other in links:
            target = _resolve(session, other, scope, keys)
            if target is None:
                raise ImportFormatError(f"intention.{field} {other[:30]!r} is no intention "
                                        f"of scope {scope!r}, in the file or stored.",
                                        line=number, field=f"intention.{field}")
            if field == "parent":
                session.execute(update(TaskRow).where(TaskRow.pk == pk)
                                .values(parent_pk=target))
            else:
                session.execute(insert(TaskDependencyRow).values(item_pk=pk,
                                                                 depends_on_pk=target))
        due = _time(record.get("due_at"))
        if due is not None:
            session.execute(update(TaskRow).where(TaskRow.pk == pk).values(
                overdue_at=due + timedelta(seconds=record["grace_seconds"])))
        triggers: dict[str, int] = {}
        for trigger in record["triggers"]:
            triggers[trigger["id"]] = insert_row(session, TriggerRow, {
                "id": trigger["id"], "scope": scope, "item_pk": pk, "kind": trigger["kind"],
                "spec": trigger["spec"], "misfire": trigger["misfire"],
                "grace_seconds": trigger["grace_seconds"],
                "next_fire": _time(trigger.get("next_fire")), "waiting": trigger["waiting"],
                "status": trigger["status"], "once": trigger["once"],
                "fires": trigger["fires"], "created_at": _time(trigger["created_at"])})
            if trigger["kind"] in ("event", "context"):
                session.execute(insert(TriggerCueRow).values(
                    trigger_pk=triggers[trigger["id"]], scope=scope,
                    key=Condition.parse(trigger["spec"]).cue()[:255]))
        for run in record["runs"]:
            session.execute(insert(TriggerRunRow).values(
                id=run["id"], scope=scope, item_pk=pk,
                trigger_pk=triggers.get(run.get("trigger") or ""),
                occurrence=run["occurrence"], scheduled_for=_time(run.get("scheduled_for")),
                fired_at=_time(run["fired_at"]), outcome=run["outcome"],
                instants=run["instants"], detail=run["detail"],
                delivered_to=run.get("delivered_to"),
                delivered_at=_time(run.get("delivered_at"))))
    return len(new), len(records) - len(new)


def _resolve(session: Session, id: str, scope: str, keys: Mapping[str, tuple[int, str]]
             ) -> int | None:
    if id in keys:
        pk, other_scope = keys[id]
        return pk if other_scope == scope else None
    found = session.scalar(select(TaskRow.pk).where(TaskRow.id == id, TaskRow.scope == scope))
    return None if found is None else int(found)

