"""``athena.prospective``: intentions - tasks, goals and reminders - and their triggers.

:class:`Prospective` is the owner object of the API registry's ``prospective``
namespace: ``add``, ``list``, ``get``, ``depend``, ``start``, ``done``, ``cancel``,
``fail``, ``runs``, ``due`` and ``triggered``, declared once, so host applications,
sandboxed programs, MCP and the CLI offer the same calls, scope-bound and
permission-checked by the dispatcher.

Durability: every trigger is a row; a time trigger's next instant is stored
(``next_fire``), so a tick (:meth:`Prospective.tick`) is one indexed query for
``next_fire <= now``. A fire is claimed with a conditional ``UPDATE`` (the row's
``next_fire`` must still be the one read) and recorded in the same transaction as a run,
unique per intention and occurrence, so it happens once however many processes tick.
Instants missed by more than the trigger's grace period (the process was down) follow
its misfire policy: ``catch_up_all`` records each, ``coalesce_once`` one for them all,
``skip`` one ``skipped`` record for them all - each surfaced by :meth:`Prospective.due`,
never dropped. An intention past its due time plus grace becomes ``overdue`` with a
run record saying so.

Event and context triggers are evaluated on the write path: in the transaction that
stores a memory (:meth:`Prospective.on_write`), after an operation called through the
registry (:meth:`Prospective.on_operation`), and when a host announces an event with
``triggered``. See :mod:`athena_core.prospective.cues`.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import attrs
from sqlalchemy import CursorResult, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from athena_core import _ids, calls
from athena_core._time import as_utc, isoformat, utcnow
from athena_core.api import operation
from athena_core.errors import (
    DependencyCycleError,
    InvalidArgumentError,
    ScheduleError,
    TaskNotFoundError,
)
from athena_core.prospective.cues import Condition, Event
from athena_core.prospective.schedule import Schedule, parse_duration
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
    from athena_core.memory.forgetting import ForgetSelection
    from athena_core.memory.store import Transaction
    from athena_core.storage import Storage

__all__ = ["KINDS", "MISFIRE_POLICIES", "PRIORITIES", "STATUSES", "Prospective", "TickReport"]

KINDS = ("task", "goal", "reminder")
STATUSES = ("pending", "active", "done", "cancelled", "overdue", "failed")
PRIORITIES = ("low", "normal", "high", "urgent")
MISFIRE_POLICIES = ("catch_up_all", "coalesce_once", "skip")
#: Statuses whose triggers still fire.
OPEN = ("pending", "active", "overdue")
#: The grace period when none is given.
DEFAULT_GRACE = timedelta(minutes=5)
#: At most this many missed instants of one trigger are recorded per tick under
#: ``catch_up_all`` (the next tick records the rest); coalesced and skipped stretches
#: count up to :data:`MAX_COUNTED` instants.
MAX_CATCH_UP = 10_000
MAX_COUNTED = 1_000_000
#: Triggers claimed per tick transaction.
TICK_BATCH = 500
_IN_BATCH = 500
#: Whether an operation trigger watches an operation: asked after operation calls.
_WATCHED = select(TriggerCueRow.trigger_pk).where(
    TriggerCueRow.scope == bindparam("scope"), TriggerCueRow.key == bindparam("key")).limit(1)


@attrs.frozen
class TickReport:
    """What one tick did: triggers that fired, run records written, intentions that
    fell overdue."""

    triggers: int = 0
    runs: int = 0
    overdue: int = 0


def _grace(value: str | int | None) -> int:
    if value is None:
        return int(DEFAULT_GRACE.total_seconds())
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ScheduleError("grace must be 0 seconds or more.", argument="grace")
        return value
    count, unit = parse_duration(str(value), argument="grace")
    return count * {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}[unit]


def _insert_run(session: Session, values: Mapping[str, Any]) -> int | None:
    """Insert a run record unless one for the same intention and occurrence exists; its
    key, or ``None`` if it existed."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    table: Table = TriggerRunRow.__table__  # type: ignore[assignment]  # a FromClause to mypy
    statement = (dialect_insert(table).values(**values)
                 .on_conflict_do_nothing(index_elements=["item_pk", "occurrence"])
                 .returning(table.c.pk))
    key = session.execute(statement).scalar()
    return None if key is None else int(key)


def _changed(session: Session, statement: Any) -> int:
    """How many rows ``statement`` (an update or delete) changed; the session's loaded
    objects are not synchronised (the callers read rows again where they need them)."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        statement.execution_options(synchronize_session=False))
    return int(result.rowcount)


class Prospective:
    """The ``prospective`` operations of one :class:`~athena_core.Athena` instance."""

    api_namespace = "prospective"

    def __init__(self, store: MemoryStore, *, default_scope: str = "default") -> None:
        self._store = store
        self.default_scope = default_scope
        #: Whether (scope, operation) has an operation trigger, as read at a commit counter.
        self._watched: dict[tuple[str, str], bool] = {}
        self._watched_at: int | None = None
        self._watched_lock = threading.Lock()

    @property
    def storage(self) -> Storage:
        return self._store.storage

    # --- adding ----------------------------------------------------------------------

    @operation(permissions="write")
    def add(self, title: str, *, kind: Literal["task", "goal", "reminder"] = "task",
            notes: str | None = None,
            priority: Literal["low", "normal", "high", "urgent"] = "normal",
            parent: str | None = None, depends_on: Sequence[str] | None = None,
            due: str | None = None, at: str | None = None, every: str | None = None,
            cron: str | None = None, rrule: str | None = None, start: str | None = None,
            zone: str = "UTC", when: Mapping[str, Any] | None = None, once: bool = True,
            misfire: Literal["catch_up_all", "coalesce_once", "skip"] = "coalesce_once",
            grace: str | None = None, metadata: Mapping[str, Any] | None = None,
            scope: str | None = None) -> dict[str, Any]:
        """Add a task, goal or reminder and return it (with its ``id``).

        ``parent`` is a goal's id; ``depends_on`` ids of intentions that must be done
        before this one starts or fires. ``due`` is when it should be done (an ISO time,
        ``in 3 days``); past it plus ``grace`` (default 5 minutes, e.g. ``'1 hour'``) it
        becomes ``overdue``. A time trigger is one of ``at`` (``'2026-12-24T18:00'`` in
        ``zone``, or ``'in 45 minutes'``), ``every`` (``'30 minutes'``, ``'2 days'``),
        ``cron`` (five fields) or ``rrule`` (RFC 5545, from ``start``), in the IANA
        ``zone``, with a ``misfire`` policy for instants missed by more than ``grace``.
        ``when`` is a condition trigger, on what happens or where: ``{'kind': 'error', 'keyword':
        'deploy'}``, ``{'operation': 'procedures.run'}``, ``{'path': '/srv/app',
        'session': 's1'}`` (parts: operation, kind, outcome, keyword, entity, session,
        tags, path); ``once=False`` fires it on every matching event. Nothing is stored
        when any value is wrong.
        """
        store = self._store
        scope = store.scope(scope)
        title = store.text(title, name="title")
        notes = None if notes is None else store.text(notes, name="notes")
        meta = store.metadata(metadata)
        now = utcnow()
        timed = any(value is not None for value in (at, every, cron, rrule))
        try:
            grace_seconds = _grace(grace)
            due_at = None if due is None else self._due(due, now)
            schedule = Schedule.create(at=at, every=every, cron=cron, rrule=rrule,
                                       start=start, zone=zone, now=now) if timed else None
        except OverflowError:
            raise ScheduleError(
                "A time (due, at, start) or a duration (every, grace) is outside what Athena "
                "can schedule: times must fall in the years 1 to 9998 in UTC.",
                hint="Give a time such as '2027-03-01T09:00' or a duration such as "
                     "'30 minutes'.") from None
        if not timed and (start is not None or zone != "UTC"):
            raise ScheduleError("start and zone belong to a time trigger (at, every, cron "
                                "or rrule).", argument="zone")
        condition = None if when is None else Condition.parse(when)
        with store.transaction() as tx:
            session = tx.session
            parent_pk = None
            if parent is not None:
                parent_row = self._row(session, parent, scope)
                if parent_row.kind != "goal":
                    raise InvalidArgumentError(f"parent {parent!r} is a {parent_row.kind}; "
                                               "a parent must be a goal.", argument="parent")
                parent_pk = parent_row.pk
            needs = [self._row(session, item, scope) for item in dict.fromkeys(depends_on or ())]
            item = {"id": _ids.new_id(), "scope": scope, "kind": kind,
                    "title": tx.conceal(title, scope=scope),
                    "notes": tx.conceal(notes, scope=scope), "status": "pending",
                    "priority": PRIORITIES.index(priority), "parent_pk": parent_pk,
                    "due_at": due_at, "grace_seconds": grace_seconds,
                    "overdue_at": None if due_at is None
                    else due_at + timedelta(seconds=grace_seconds),
                    "metadata": tx.conceal(meta, scope=scope), "outcome": None,
                    "created_at": now, "updated_at": now, "finished_at": None}
            item_pk = insert_row(session, TaskRow, item)
            for need in needs:
                session.execute(insert(TaskDependencyRow).values(item_pk=item_pk,
                                                                 depends_on_pk=need.pk))
            waiting = any(need.status != "done" for need in needs)
            if schedule is not None:
                self._insert_trigger(session, scope, item_pk, schedule.kind, schedule.spec,
                                     misfire=misfire, grace=grace_seconds, once=True,
                                     next_fire=schedule.next_after(now - timedelta(
                                         microseconds=1)), waiting=waiting, now=now)
            if condition is not None:
                trigger_pk = self._insert_trigger(
                    session, scope, item_pk, condition.family, condition.to_dict(),
                    misfire=misfire, grace=grace_seconds, once=once, next_fire=None,
                    waiting=waiting, now=now)
                session.execute(insert(TriggerCueRow).values(
                    trigger_pk=trigger_pk, key=condition.cue()[:255], scope=scope))
            found = self._describe(session, [self._row(session, item["id"], scope)])[0]
        return found

    @staticmethod
    def _insert_trigger(session: Session, scope: str, item_pk: int, kind: str,
                        spec: Mapping[str, Any], *, misfire: str, grace: int, once: bool,
                        next_fire: datetime | None, waiting: bool, now: datetime) -> int:
        if misfire not in MISFIRE_POLICIES:
            raise ScheduleError(f"misfire={misfire!r} is not a policy; policies: "
                                f"{', '.join(MISFIRE_POLICIES)}.", argument="misfire")
        values = {"id": _ids.new_id(), "scope": scope, "item_pk": item_pk, "kind": kind,
                  "spec": dict(spec), "misfire": misfire, "grace_seconds": grace,
                  "next_fire": next_fire, "waiting": waiting, "status": "active",
                  "once": once, "fires": 0, "created_at": now}
        return int(insert_row(session, TriggerRow, values))

    @staticmethod
    def _due(due: str, now: datetime) -> datetime:
        if due.strip().lower().startswith("in "):
            count, unit = parse_duration(due.strip()[3:], argument="due")
            return now + timedelta(seconds=count * {"minute": 60, "hour": 3600,
                                                    "day": 86400, "week": 604800}[unit])
        return as_utc(due, name="due")

    # --- reading ---------------------------------------------------------------------

    @operation()
    def list(self, *, status: Literal["pending", "active", "done", "cancelled", "overdue",
                                      "failed"] | None = None,
             kind: Literal["task", "goal", "reminder"] | None = None,
             parent: str | None = None, limit: int = 100,
             scope: str | None = None) -> builtins.list[dict[str, Any]]:
        """Intentions, most urgent first (priority, then due time, then age): each with
        its ``id``, ``kind``, ``title``, ``status``, ``priority``, ``parent``,
        ``depends_on``, ``waiting`` (for dependencies), ``due_at`` and ``triggers``.
        ``status``, ``kind`` and ``parent`` (a goal's id) narrow the list."""
        if limit < 1:
            raise InvalidArgumentError("limit must be at least 1.", argument="limit")
        scope = self._store.scope(scope)
        with self.storage.read() as session:
            query = select(TaskRow).where(TaskRow.scope == scope)
            if status is not None:
                query = query.where(TaskRow.status == status)
            if kind is not None:
                query = query.where(TaskRow.kind == kind)
            if parent is not None:
                query = query.where(TaskRow.parent_pk == self._row(session, parent, scope).pk)
            rows = session.scalars(query.order_by(TaskRow.priority.desc(),
                                                  TaskRow.due_at.is_(None), TaskRow.due_at,
                                                  TaskRow.pk).limit(limit)).all()
            return self._describe(session, rows)

    @operation()
    def get(self, id: str, *, scope: str | None = None) -> dict[str, Any]:
        """Intention ``id`` as :meth:`list` describes it, with ``notes``, ``metadata`` and
        ``outcome``."""
        scope = self._store.scope(scope)
        with self.storage.read() as session:
            return self._describe(session, [self._row(session, id, scope)])[0]

    @operation()
    def runs(self, id: str | None = None, *, limit: int = 100,
             scope: str | None = None) -> builtins.list[dict[str, Any]]:
        """Fire records, newest first (of intention ``id`` if given): ``id``, ``task``,
        ``trigger``, ``occurrence``, ``scheduled_for``, ``fired_at``, ``outcome``
        (``fired``, ``caught_up``, ``coalesced``, ``skipped``, ``overdue``),
        ``instants`` (how many it stands for), ``detail``, ``delivered_to`` and
        ``delivered_at``."""
        if limit < 1:
            raise InvalidArgumentError("limit must be at least 1.", argument="limit")
        scope = self._store.scope(scope)
        with self.storage.read() as session:
            query = select(TriggerRunRow).where(TriggerRunRow.scope == scope)
            if id is not None:
                query = query.where(TriggerRunRow.item_pk == self._row(session, id, scope).pk)
            rows = session.scalars(query.order_by(TriggerRunRow.fired_at.desc(),
                                                  TriggerRunRow.pk.desc()).limit(limit)).all()
            return self._runs(session, rows)

    # --- lifecycle -------------------------------------------------------------------

    @operation(permissions="write")
    def depend(self, id: str, on: Sequence[str], *, scope: str | None = None
               ) -> dict[str, Any]:
        """Make intention ``id`` wait for each of ``on`` to be done; refused with
        ``DependencyCycleError`` (nothing stored) if that would close a cycle."""
        scope = self._store.scope(scope)
        with self._store.transaction() as tx:
            row = self._row(tx.session, id, scope)
            needs = [self._row(tx.session, other, scope) for other in dict.fromkeys(on)]
            edges = self._edges(tx.session, scope)
            for need in needs:
                if need.pk == row.pk or row.pk in _reachable(edges, need.pk):
                    raise DependencyCycleError(
                        f"{id} cannot depend on {need.id}: {need.id} already waits for "
                        f"{id}, directly or through others, so neither could ever start.",
                        hint="Remove one of the dependencies instead.")
                if need.pk not in edges.get(row.pk, set()):
                    tx.session.execute(insert(TaskDependencyRow).values(
                        item_pk=row.pk, depends_on_pk=need.pk))
                    edges.setdefault(row.pk, set()).add(need.pk)
            self._set_waiting(tx.session, [row.pk])
            return self._describe(tx.session, [row])[0]

    @operation(permissions="write")
    def start(self, id: str, *, scope: str | None = None) -> dict[str, Any]:
        """Mark intention ``id`` active; refused while it waits for dependencies."""
        return self._finish(id, "active", None, scope)

    @operation(permissions="write")
    def done(self, id: str, *, outcome: str | None = None,
             scope: str | None = None) -> dict[str, Any]:
        """Mark intention ``id`` done (its triggers stop; intentions waiting only for it
        may now fire). Refused while it waits for dependencies."""
        return self._finish(id, "done", outcome, scope)

    @operation(permissions="write")
    def cancel(self, id: str, *, scope: str | None = None) -> dict[str, Any]:
        """Cancel intention ``id``: its triggers stop."""
        return self._finish(id, "cancelled", None, scope)

    @operation(permissions="write")
    def fail(self, id: str, reason: str, *, scope: str | None = None) -> dict[str, Any]:
        """Mark intention ``id`` failed, saying why: its triggers stop."""
        return self._finish(id, "failed", reason, scope)

    def _finish(self, id: str, status: str, outcome: str | None, scope: str | None
                ) -> dict[str, Any]:
        store = self._store
        scope = store.scope(scope)
        outcome = None if outcome is None else store.text(outcome, name="outcome")
        now = utcnow()
        with store.transaction() as tx:
            session = tx.session
            row = self._row(session, id, scope)
            if row.status in ("done", "cancelled", "failed"):
                raise InvalidArgumentError(f"{id} is already {row.status}.", argument="id")
            if status in ("active", "done"):
                waiting = self._waiting_for(session, [row.pk]).get(row.pk, [])
                if waiting:
                    raise InvalidArgumentError(
                        f"{id} waits for {', '.join(waiting)}, not done yet.",
                        hint="Finish those first, or cancel this one.", argument="id")
            closed = status != "active"
            session.execute(update(TaskRow).where(TaskRow.pk == row.pk).values(
                status=status, updated_at=now,
                outcome=tx.conceal(outcome, scope=scope) if outcome else row.outcome,
                finished_at=now if closed else None))
            if closed:
                session.execute(update(TriggerRow).where(
                    TriggerRow.item_pk == row.pk, TriggerRow.status == "active").values(
                    status="finished" if status == "done" else "cancelled", next_fire=None))
            if status == "done":
                dependants = session.scalars(select(TaskDependencyRow.item_pk).where(
                    TaskDependencyRow.depends_on_pk == row.pk)).all()
                self._set_waiting(session, dependants)
            return self._describe(session, [self._row(session, id, scope)])[0]

    # --- firing: time ----------------------------------------------------------------

    def tick(self, *, now: datetime | None = None, scope: str | None = None) -> TickReport:
        """Fire every time trigger due by ``now`` (all scopes, or ``scope``) and mark
        intentions past due plus grace overdue, each with its run records. Host side
        (``athena tick``, and :meth:`due`); safe to run in several processes at once."""
        now = utcnow() if now is None else as_utc(now, name="now")
        report = TickReport()
        while True:
            with self.storage.snapshot() as connection:  # nothing due: no write transaction
                if not self._anything_due(connection, now, scope):
                    return report
            with self._store.transaction() as tx:
                step = self._tick_batch(tx.session, now, scope)
            report = TickReport(report.triggers + step.triggers, report.runs + step.runs,
                                report.overdue + step.overdue)

    @staticmethod
    def _due_triggers(now: datetime, scope: str | None) -> Any:
        query = select(TriggerRow).where(TriggerRow.waiting.is_(False),
                                         TriggerRow.next_fire <= now)
        return query if scope is None else query.where(TriggerRow.scope == scope)

    @staticmethod
    def _overdue_items(now: datetime, scope: str | None) -> Any:
        query = select(TaskRow).where(TaskRow.overdue_at <= now,
                                      TaskRow.status.in_(("pending", "active")))
        return query if scope is None else query.where(TaskRow.scope == scope)

    def _anything_due(self, connection: Any, now: datetime, scope: str | None) -> bool:
        triggers = self._due_triggers(now, scope).with_only_columns(TriggerRow.pk).limit(1)
        items = self._overdue_items(now, scope).with_only_columns(TaskRow.pk).limit(1)
        return (connection.execute(triggers).first() is not None
                or connection.execute(items).first() is not None)

    def _tick_batch(self, session: Session, now: datetime, scope: str | None) -> TickReport:
        rows = session.scalars(self._due_triggers(now, scope).order_by(TriggerRow.next_fire)
                               .limit(TICK_BATCH)).all()
        fired = runs = 0
        activated: set[int] = set()
        lapsed: set[int] = set()
        for row in rows:
            written = self._fire_time_trigger(session, row, now)
            if written is None:
                continue  # another process claimed it
            fired += 1
            runs += len(written)
            outcomes = {outcome for outcome, _ in written}
            if outcomes - {"skipped"}:
                activated.add(row.item_pk)
            elif row.kind == "at":
                lapsed.add(row.item_pk)
        if activated:
            session.execute(update(TaskRow).where(TaskRow.pk.in_(activated),
                                                  TaskRow.status == "pending")
                            .values(status="active", updated_at=now))
        overdue = 0
        items = session.scalars(self._overdue_items(now, scope)).all()
        for item in items:
            runs += self._mark_overdue(session, item, now, scheduled=item.due_at)
            overdue += 1
        for pk in lapsed - {item.pk for item in items}:
            item = session.get(TaskRow, pk)
            if item is not None and item.status in ("pending", "active"):
                runs += self._mark_overdue(session, item, now, scheduled=None)
                overdue += 1
        return TickReport(fired, runs, overdue)

    @staticmethod
    def _mark_overdue(session: Session, item: TaskRow, now: datetime,
                      scheduled: datetime | None) -> int:
        session.execute(update(TaskRow).where(TaskRow.pk == item.pk).values(
            status="overdue", updated_at=now))
        stamp = isoformat(scheduled) or isoformat(now)
        return int(_insert_run(session, {
            "id": _ids.new_id(), "scope": item.scope, "item_pk": item.pk, "trigger_pk": None,
            "occurrence": f"overdue@{stamp}", "scheduled_for": scheduled, "fired_at": now,
            "outcome": "overdue", "instants": 1, "detail": {}, "delivered_to": None,
            "delivered_at": None}) is not None)

    def _fire_time_trigger(self, session: Session, row: TriggerRow, now: datetime
                           ) -> builtins.list[tuple[str, datetime]] | None:
        """Claim ``row``'s due instants and record them per its misfire policy; ``None``
        if another process claimed them first."""
        schedule = Schedule.from_spec(row.spec)
        assert row.next_fire is not None
        instants = [row.next_fire, *schedule.fires_between(row.next_fire, now,
                                                             limit=MAX_COUNTED)]
        cutoff = now - timedelta(seconds=row.grace_seconds)
        late = [instant for instant in instants if instant < cutoff]
        timely = [instant for instant in instants if instant >= cutoff]
        records: builtins.list[tuple[str, datetime, int]] = []
        if late and row.misfire == "catch_up_all":
            late = late[:MAX_CATCH_UP]
            timely = [] if len(late) == MAX_CATCH_UP else timely
            records += [("caught_up", instant, 1) for instant in late]
        elif late:
            records.append(("coalesced" if row.misfire == "coalesce_once" else "skipped",
                            late[-1], len(late)))
        records += [("fired", instant, 1) for instant in timely]
        last = records[-1][1]
        following = schedule.next_after(last)
        claimed = _changed(session, update(TriggerRow).where(
            TriggerRow.pk == row.pk, TriggerRow.next_fire == row.next_fire).values(
            next_fire=following, fires=TriggerRow.fires + len(records),
            status="active" if following is not None else "finished"))
        if claimed != 1:
            return None
        written = []
        for outcome, instant, count in records:
            stamp = isoformat(instant)
            if _insert_run(session, {
                    "id": _ids.new_id(), "scope": row.scope, "item_pk": row.item_pk,
                    "trigger_pk": row.pk, "occurrence": f"{row.id}@{stamp}",
                    "scheduled_for": instant, "fired_at": now, "outcome": outcome,
                    "instants": count, "detail": {"kind": row.kind},
                    "delivered_to": None, "delivered_at": None}) is not None:
                written.append((outcome, instant))
        return written

    # --- firing: events ----------------------------------------------------------------

    def on_write(self, tx: Transaction) -> None:
        """Evaluate event and context triggers on the memories ``tx`` stored, inside
        ``tx`` (the memory store calls this before it commits)."""
        by_scope: dict[str, builtins.list[Event]] = {}
        for memory in tx.stored:
            by_scope.setdefault(memory.scope, []).append(Event.of_memory(memory))
        for scope, events in by_scope.items():
            self._fire_events(tx.session, scope, events, utcnow())

    def on_operation(self, name: str) -> None:
        """Evaluate ``operation`` triggers after operation ``name`` returned (called by
        the registry for every operation but this namespace's)."""
        context = calls.current()
        scope = self._store.scope(context.scope if context is not None else None)
        if not self._watches(scope, name):
            return
        with self._store.transaction() as tx:
            self._fire_events(tx.session, scope, [Event.of(_ids.new_id(), operation=name)],
                              utcnow())

    def _watches(self, scope: str, name: str) -> bool:
        """Whether an operation trigger of ``scope`` names ``name``. What was read is kept
        until the database's commit counter moves (any commit, in any process), so an
        operation call on an unchanged store asks SQLite one pragma, and one indexed
        read otherwise."""
        counter = self.storage.commit_counter()
        with self._watched_lock:
            if counter is None or counter != self._watched_at:
                self._watched = {}
                self._watched_at = counter
            known = self._watched.get((scope, name))
        if known is not None:
            return known
        known = self.storage.peek(_WATCHED, {"scope": scope, "key": f"op:{name}"}) is not None
        with self._watched_lock:
            if counter is not None and counter == self._watched_at:
                self._watched[(scope, name)] = known
        return known

    @operation(permissions="write")
    def triggered(self, *, text: str | None = None, operation: str | None = None,
                  kind: str | None = None, outcome: str | None = None,
                  session: str | None = None, tags: Sequence[str] | None = None,
                  path: str | None = None, key: str | None = None,
                  scope: str | None = None) -> builtins.list[dict[str, Any]]:
        """Announce what happened (``text``, ``operation``, ``kind``, ``outcome``) or
        where the agent is (``session``, ``tags``, ``path``) and return the reminders
        it fires, delivered to the caller. ``key`` names the announcement: announcing
        the same ``key`` again fires nothing new."""
        store = self._store
        scope = store.scope(scope)
        if text is not None:
            text = store.text(text)
        now = utcnow()
        announced = Event.of(key or _ids.new_id(), text=text, operation=operation, kind=kind,
                             outcome=outcome, session=session, tags=tags, path=path)
        with store.transaction() as tx:
            pks = self._fire_events(tx.session, scope, [announced], now)
            return self._deliver(tx.session, scope, now, pks=pks)

    def _fire_events(self, session: Session, scope: str, events: Sequence[Event],
                     now: datetime) -> builtins.list[int]:
        """Fire the triggers of ``scope`` that ``events`` match (once per trigger and
        event; once ever for a ``once`` trigger); the keys of the runs written."""
        keys = sorted({key for event in events for key in event.cue_keys()})
        candidates: set[int] = set()
        for start in range(0, len(keys), _IN_BATCH):
            candidates.update(session.scalars(select(TriggerCueRow.trigger_pk).where(
                TriggerCueRow.scope == scope,
                TriggerCueRow.key.in_(keys[start:start + _IN_BATCH]))).all())
        if not candidates:
            return []
        triggers = session.scalars(select(TriggerRow).where(
            TriggerRow.pk.in_(sorted(candidates)), TriggerRow.status == "active",
            TriggerRow.waiting.is_(False), TriggerRow.scope == scope)).all()
        written: builtins.list[int] = []
        for trigger in triggers:
            condition = Condition.parse(trigger.spec)
            for event in events:
                if not condition.matches(event):
                    continue
                if trigger.once:
                    claimed = _changed(session, update(TriggerRow).where(
                        TriggerRow.pk == trigger.pk, TriggerRow.status == "active").values(
                        status="finished", fires=TriggerRow.fires + 1))
                    if claimed != 1:
                        break
                key = _insert_run(session, {
                    "id": _ids.new_id(), "scope": scope, "item_pk": trigger.item_pk,
                    "trigger_pk": trigger.pk, "occurrence": f"{trigger.id}#{event.id}",
                    "scheduled_for": None, "fired_at": now, "outcome": "fired",
                    "instants": 1, "detail": {"kind": trigger.kind, "event": event.id},
                    "delivered_to": None, "delivered_at": None})
                if key is not None:
                    written.append(key)
                    session.execute(update(TaskRow).where(
                        TaskRow.pk == trigger.item_pk, TaskRow.status == "pending")
                        .values(status="active", updated_at=now))
                if trigger.once:
                    break
        return written

    # --- delivery ----------------------------------------------------------------------

    @operation(permissions="write")
    def due(self, *, limit: int = 100, scope: str | None = None
            ) -> builtins.list[dict[str, Any]]:
        """What is due now and not yet delivered, oldest first: fired reminders, caught-up,
        coalesced and skipped stretches, intentions fallen overdue. Fires this scope's
        due time triggers first. Each is delivered once: to this caller, recorded in its
        run (``delivered_to``, ``delivered_at``); ``runs`` shows them afterwards."""
        if limit < 1:
            raise InvalidArgumentError("limit must be at least 1.", argument="limit")
        scope = self._store.scope(scope)
        now = utcnow()
        self.tick(now=now, scope=scope)
        with self.storage.snapshot() as connection:
            if connection.execute(select(TriggerRunRow.pk).where(
                    TriggerRunRow.scope == scope,
                    TriggerRunRow.delivered_at.is_(None)).limit(1)).first() is None:
                return []
        with self._store.transaction() as tx:
            return self._deliver(tx.session, scope, now, limit=limit)

    def pending_count(self, *, scope: str | None = None) -> int:
        """How many fires of ``scope`` wait for delivery (read only: the MCP notice)."""
        from sqlalchemy import func

        scope = self._store.scope(scope)
        with self.storage.snapshot() as connection:
            return int(connection.execute(select(func.count()).select_from(TriggerRunRow)
                                          .where(TriggerRunRow.scope == scope,
                                                 TriggerRunRow.delivered_at.is_(None)))
                       .scalar_one())

    def _deliver(self, session: Session, scope: str, now: datetime, *,
                 limit: int = 100, pks: Iterable[int] | None = None
                 ) -> builtins.list[dict[str, Any]]:
        context = calls.current()
        caller = context.caller if context is not None else "host"
        query = select(TriggerRunRow).where(TriggerRunRow.scope == scope,
                                            TriggerRunRow.delivered_at.is_(None))
        if pks is not None:
            chosen = builtins.list(pks)
            if not chosen:
                return []
            query = query.where(TriggerRunRow.pk.in_(chosen))
        rows = session.scalars(query.order_by(TriggerRunRow.fired_at, TriggerRunRow.pk)
                               .limit(limit)).all()
        delivered = []
        for row in rows:
            claimed = _changed(session, update(TriggerRunRow).where(
                TriggerRunRow.pk == row.pk, TriggerRunRow.delivered_at.is_(None))
                .values(delivered_to=caller[:255], delivered_at=now))
            if claimed == 1:
                delivered.append(row)
        session.expire_all()
        return self._runs(session, delivered, with_task=True)

    # --- forget, export, import (host side) --------------------------------------------

    @staticmethod
    def ids_among(session: Session, scope: str, ids: Iterable[str] | None) -> frozenset[str]:
        """Those of ``ids`` that name intentions of ``scope``."""
        wanted = sorted(ids or ())
        found: set[str] = set()
        for start in range(0, len(wanted), _IN_BATCH):
            found.update(session.scalars(select(TaskRow.id).where(
                TaskRow.scope == scope, TaskRow.id.in_(wanted[start:start + _IN_BATCH]))))
        return frozenset(found)

    def forget(self, session: Session, scope: str, selection: ForgetSelection,
               forms: Sequence[str] | None) -> tuple[int, builtins.list[str]]:
        """For ``athena.forget``, in its transaction: delete the intentions of ``scope``
        it selects - all of them (``everything``), those among its ``ids``, or those whose
        title, notes or outcome hold a form of its ``subject`` - with their triggers, cues
        and runs. Returns how many, and the texts they held (for the audit log to scrub
        the programs and calls that quoted them)."""
        where: Any
        if selection.everything:
            where = TaskRow.scope == scope
        elif selection.ids:
            where = TaskRow.id.in_(sorted(selection.ids))
        elif forms:
            where = or_(*(column.contains(form) for form in forms
                          for column in (TaskRow.title, TaskRow.notes, TaskRow.outcome)))
        else:
            return 0, []
        texts = [text for row in session.execute(
            select(TaskRow.title, TaskRow.notes, TaskRow.outcome)
            .where(TaskRow.scope == scope, where)) for text in row if text]
        return _changed(session, delete(TaskRow).where(TaskRow.scope == scope, where)), texts

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, id: str, scope: str) -> TaskRow:
        row = session.scalar(select(TaskRow).where(TaskRow.id == str(id)[:64],
                                                   TaskRow.scope == scope))
        if row is None:
            raise TaskNotFoundError(f"No task, goal or reminder {str(id)[:64]!r} in scope "
                                    f"{scope!r}.", hint="List them with prospective.list().")
        return row

    @staticmethod
    def _edges(session: Session, scope: str) -> dict[int, set[int]]:
        edges: dict[int, set[int]] = {}
        rows = session.execute(select(TaskDependencyRow.item_pk, TaskDependencyRow.depends_on_pk)
                               .join(TaskRow, TaskRow.pk == TaskDependencyRow.item_pk)
                               .where(TaskRow.scope == scope)).all()
        for item, need in rows:
            edges.setdefault(item, set()).add(need)
        return edges

    @staticmethod
    def _waiting_for(session: Session, pks: Sequence[int]) -> dict[int, builtins.list[str]]:
        """For each of ``pks``, the ids of its dependencies not yet done."""
        found: dict[int, builtins.list[str]] = {}
        if not pks:
            return found
        rows = session.execute(select(TaskDependencyRow.item_pk, TaskRow.id)
                               .join(TaskRow, TaskRow.pk == TaskDependencyRow.depends_on_pk)
                               .where(TaskDependencyRow.item_pk.in_(builtins.list(pks)),
                                      TaskRow.status != "done")).all()
        for item, need in rows:
            found.setdefault(item, []).append(need)
        return found

    def _set_waiting(self, session: Session, pks: Sequence[int]) -> None:
        """Bring the ``waiting`` flag of the triggers of ``pks`` in step with their
        dependencies."""
        waiting = self._waiting_for(session, pks)
        for pk in pks:
            session.execute(update(TriggerRow).where(TriggerRow.item_pk == pk)
                            .values(waiting=bool(waiting.get(pk))))

    def _describe(self, session: Session, rows: Sequence[TaskRow]
                  ) -> builtins.list[dict[str, Any]]:
        pks = [row.pk for row in rows]
        if not pks:
            return []
        ids = dict(session.execute(select(TaskRow.pk, TaskRow.id).where(
            or_(TaskRow.pk.in_(pks), TaskRow.pk.in_(
                select(TaskDependencyRow.depends_on_pk).where(
                    TaskDependencyRow.item_pk.in_(pks))),
                TaskRow.pk.in_([row.parent_pk for row in rows if row.parent_pk])))).all())
        needs: dict[int, builtins.list[str]] = {}
        for item, need in session.execute(select(TaskDependencyRow.item_pk,
                                                 TaskDependencyRow.depends_on_pk)
                                          .where(TaskDependencyRow.item_pk.in_(pks))).all():
            needs.setdefault(item, []).append(ids[need])
        waiting = self._waiting_for(session, pks)
        triggers: dict[int, builtins.list[dict[str, Any]]] = {}
        for trigger in session.scalars(select(TriggerRow).where(TriggerRow.item_pk.in_(pks))
                                       .order_by(TriggerRow.pk)).all():
            triggers.setdefault(trigger.item_pk, []).append(_trigger_dict(trigger))
        return [{"id": row.id, "kind": row.kind, "title": row.title, "notes": row.notes,
                 "status": row.status, "priority": PRIORITIES[row.priority],
                 "parent": ids.get(row.parent_pk) if row.parent_pk else None,
                 "depends_on": sorted(needs.get(row.pk, [])),
                 "waiting": sorted(waiting.get(row.pk, [])),
                 "due_at": isoformat(row.due_at), "overdue_at": isoformat(row.overdue_at),
                 "metadata": dict(row.meta or {}), "outcome": row.outcome,
                 "created_at": isoformat(row.created_at),
                 "updated_at": isoformat(row.updated_at),
                 "finished_at": isoformat(row.finished_at),
                 "triggers": triggers.get(row.pk, [])} for row in rows]

    @staticmethod
    def _runs(session: Session, rows: Sequence[TriggerRunRow], *, with_task: bool = False
              ) -> builtins.list[dict[str, Any]]:
        if not rows:
            return []
        items = {row.pk: row for row in session.scalars(select(TaskRow).where(
            TaskRow.pk.in_({row.item_pk for row in rows}))).all()}
        triggers = dict(session.execute(select(TriggerRow.pk, TriggerRow.id).where(
            TriggerRow.pk.in_({row.trigger_pk for row in rows if row.trigger_pk}))).all())
        found = []
        for row in rows:
            item = items[row.item_pk]
            entry = {"id": row.id, "task": item.id,
                     "trigger": triggers.get(row.trigger_pk) if row.trigger_pk else None,
                     "occurrence": row.occurrence,
                     "scheduled_for": isoformat(row.scheduled_for),
                     "fired_at": isoformat(row.fired_at), "outcome": row.outcome,
                     "instants": row.instants, "detail": dict(row.detail or {}),
                     "delivered_to": row.delivered_to,
                     "delivered_at": isoformat(row.delivered_at)}
            if with_task:
                entry.update(title=item.title, kind=item.kind, status=item.status,
                             priority=PRIORITIES[item.priority])
            found.append(entry)
        return found


def _trigger_dict(row: TriggerRow) -> dict[str, Any]:
    timed = row.kind not in ("event", "context")
    return {"id": row.id, "kind": row.kind,
            ("schedule" if timed else "when"): dict(row.spec),
            "misfire": row.misfire, "grace_seconds": row.grace_seconds,
            "next_fire": isoformat(row.next_fire), "status": row.status,
            "waiting": row.waiting, "once": row.once, "fires": row.fires}


def _reachable(edges: Mapping[int, set[int]], start: int) -> set[int]:
    """Every intention ``start`` waits for, directly or not."""
    seen: set[int] = set()
    stack = [start]
    while stack:
        for need in edges.get(stack.pop(), ()):
            if need not in seen:
                seen.add(need)
                stack.append(need)
    return seen

