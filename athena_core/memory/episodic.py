"""Episodic memory: time-stamped events, deduplicated, queried by time, session and context."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from athena_core._time import isoformat, utcnow
from athena_core.api import operation
from athena_core.api.validation import check_fields, declared_defaults, declared_fields
from athena_core.memory.pages import Listing
from athena_core.memory.store import LayerContext, MemoryStore
from athena_core.memory.values import Episode, Hit, Memory
from athena_core.retrieval.filters import MetadataFilter, RecallFilter
from athena_core.storage.models import EpisodeRow, MemoryRow
from athena_core.storage.queries import episode_conditions, insert_row, memory_conditions

__all__ = ["EPISODE_KINDS", "EpisodicLayer"]

#: Kinds of event (free-form strings are accepted; these are the common ones).
EPISODE_KINDS = ("conversation", "action", "decision", "error", "success", "file_change",
                 "test_run", "deployment", "refactoring", "debugging", "tool_execution",
                 "observation", "reflection")
_memories, _episodes = MemoryRow.__table__, EpisodeRow.__table__
#: The id of an event with the same content hash (a Core statement: it runs on every record).
_EXISTING_EVENT = (select(_memories.c.id)
                   .join(_episodes, _episodes.c.memory_pk == _memories.c.pk)
                   .where(_episodes.c.content_hash == bindparam("digest")))


class EpisodicLayer:
    """Events: what happened, when, in which session and context."""

    name = "episodic"
    api_namespace = "episodic"

    def __init__(self, context: LayerContext) -> None:
        self._store = context.store

    @operation(permissions="write")
    def record(self, content: str, *, occurred_at: datetime | None = None,
               session: str | None = None, kind: str = "observation",
               outcome: str | None = None, context: Mapping[str, Any] | None = None,
               actor: str | None = None, importance: float = 0.5,
               scope: str | None = None) -> str:
        """Record an event and return its id.

        ``occurred_at`` defaults to now; ``actor`` is who said or did it (recall
        favours events whose actor the query names); ``context`` is free metadata
        (cwd, files, task, branch, ...). Recording exactly the same event again
        (same content, time, session, kind, outcome, actor, context and scope)
        returns the first id.
        """
        store = self._store
        content = store.text(content, name="content")
        scope = store.scope(scope)
        context = store.metadata(context, name="context")
        importance = store.importance(importance)
        fields = _event_fields(session=session, kind=kind, outcome=outcome, actor=actor)
        occurred_at = occurred_at or utcnow()
        content = store.conceal(content, scope=scope)
        vector = store.embed([content])[0]
        with store.transaction() as tx:
            # concealed before the event's digest is taken: it must not hash a value
            context = tx.conceal(context, scope=scope)
            for name in _LABELS:  # their placeholders must fit the columns too
                if fields[name] is not None:
                    fields[name] = store.label(tx.conceal(fields[name], scope=scope),
                                               name=name, column=getattr(EpisodeRow, name))
            episode = _episode_row(scope, content, occurred_at, context, fields)
            existing = tx.session.connection().scalar(
                _EXISTING_EVENT, {"digest": episode["content_hash"]})
            if existing is not None:
                return str(existing)
            row = tx.insert(layer=self.name, text=content, scope=scope, vector=vector,
                            metadata=context, importance=importance, valid_from=occurred_at)
            episode["memory_pk"] = row.pk
            insert_row(tx.session, EpisodeRow, episode)
            tx.stored.append(Episode.from_rows(row, EpisodeRow(**episode)))
        return row.id

    @operation()
    def timeline(self, *, start: datetime | None = None, end: datetime | None = None,
                 session: str | None = None, kind: str | None = None,
                 actor: str | None = None, context: Mapping[str, Any] | None = None,
                 limit: int = 100, order: Literal["asc", "desc"] = "asc",
                 cursor: str | None = None, scope: str | None = None) -> list[Episode]:
        """Events in [start, end), optionally of one session, kind, actor and context, in
        time order (events at the same time in the order they were recorded).

        ``context`` is a metadata filter, e.g. ``{"branch": "main"}`` or ``{"files":
        {"contains": "api.py"}}`` (see docs/recall.md); ``order="desc"`` gives the most
        recent first. Each event carries a ``cursor``: pass the last one's back as
        ``cursor=`` (same order) for the next page.
        """
        listing = Listing("episodic.timeline", descending=order == "desc")
        scope = self._store.scope(scope)
        where = RecallFilter(scope, layers={self.name}, since=start, until=end,
                             metadata=MetadataFilter.parse(context, name="context"),
                             **self._labels(scope, session, actor, kind))
        # Joined: the episode conditions are on the joined row, so an index on them serves.
        stmt = (select(MemoryRow, EpisodeRow)
                .join(EpisodeRow, EpisodeRow.memory_pk == MemoryRow.pk)
                .where(memory_conditions(attrs.evolve(where, session=None, actor=None,
                                                      kind=None)),
                       *episode_conditions(where), *listing.after(cursor))
                .order_by(*listing.order_by()).limit(limit))
        with self._store.storage.read() as db:
            return [Episode.from_rows(row, ep, listing.cursor(row))
                    for row, ep in db.execute(stmt)]

    @operation()
    def search(self, query: str, *, k: int = 10, start: datetime | None = None,
               end: datetime | None = None, session: str | None = None,
               actor: str | None = None, context: Mapping[str, Any] | None = None,
               kind: str | None = None, scope: str | None = None) -> list[Hit]:
        """Events most relevant to ``query`` (full-text and semantic), optionally in a time range.

        ``session``, ``actor``, ``kind`` and ``context`` (a metadata filter, as in
        ``timeline``) restrict the search before ranking.
        """
        from athena_core.memory.recall import hybrid_recall

        scope = self._store.scope(scope)
        where = RecallFilter(scope, layers={self.name}, since=start, until=end,
                             metadata=MetadataFilter.parse(context, name="context"),
                             **self._labels(scope, session, actor, kind))
        return hybrid_recall(self._store, query, k=k, where=where)

    def _labels(self, scope: str, session: str | None, actor: str | None,
                kind: str | None) -> dict[str, Any]:
        """The ``session``, ``actor`` and ``kind`` filters of a :class:`RecallFilter` as
        events store these labels: their sensitive values as placeholders."""
        labels = {"session": session, "actor": actor, "kind": kind}
        return {name: self._store.conceal_query(value, scope=scope)
                if isinstance(value, str) else value  # others: RecallFilter refuses them
                for name, value in labels.items()}

    # --- export / import -------------------------------------------------------

    def export_fields(self, session: Session, keys: list[int]) -> dict[int, dict[str, Any]]:
        rows = session.scalars(select(EpisodeRow).where(EpisodeRow.memory_pk.in_(keys)))
        return {r.memory_pk: {"session": r.session, "kind": r.kind, "outcome": r.outcome,
                              **({"actor": r.actor} if r.actor is not None else {})}
                for r in rows}

    def import_check(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """An imported event's ``fields`` (those of :class:`Episode` beyond a memory's),
        checked as :meth:`record` checks its arguments; absent ones take their defaults."""
        given = check_fields(fields, declared_fields(Episode, base=Memory), name="fields")
        defaults = declared_defaults(Episode, base=Memory)
        return _event_fields(**{**defaults, **given}, prefix="fields.")

    def import_fields(self, session: Session, row: MemoryRow, fields: Mapping[str, Any]
                      ) -> None:
        episode = _episode_row(row.scope, row.text, row.valid_from, row.meta, fields)
        insert_row(session, EpisodeRow, {"memory_pk": row.pk, **episode})

    def related_for_forget(self, session: Session, keys: set[int]) -> set[int]:
        return keys

    def store_generic(self, text: str, *, metadata: Mapping[str, Any] | None,
                      importance: float, scope: str | None) -> str:
        """``athena.remember(..., layer="episodic")``: an observation that happened now."""
        return self.record(text, context=metadata, importance=importance, scope=scope)


#: An event's short labels, concealed like its content.
_LABELS = ("session", "kind", "outcome", "actor")


def _event_fields(*, session: str | None, kind: str, outcome: str | None, actor: str | None,
                  prefix: str = "") -> dict[str, Any]:
    """An event's own fields, checked against their columns: ``kind`` and ``actor`` must
    not be blank (``actor`` is stored stripped); all fit their columns as valid Unicode."""
    def label(name: str, value: str | None, *, blank_ok: bool = True) -> str | None:
        if value is None:
            return None
        return MemoryStore.label(value, name=prefix + name, column=getattr(EpisodeRow, name),
                                 blank_ok=blank_ok)

    actor = label("actor", actor, blank_ok=False)
    return {"session": label("session", session), "kind": label("kind", kind, blank_ok=False),
            "outcome": label("outcome", outcome), "actor": actor and actor.strip()}


def _episode_row(scope: str, content: str, occurred_at: datetime,
                 context: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The ``episodes`` columns of an event (but its key), with its content hash."""
    digest = _event_hash(scope, content, occurred_at, fields["session"], fields["kind"],
                         fields["outcome"], context, fields["actor"])
    return {**fields, "content_hash": digest}


def _event_hash(scope: str, content: str, occurred_at: datetime, session: str | None,
                kind: str, outcome: str | None, context: Mapping[str, Any],
                actor: str | None) -> str:
    fields = [scope, content, isoformat(occurred_at), session, kind, outcome, context]
    if actor is not None:  # events recorded before actors existed keep their hashes
        fields.append(actor)
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
