"""Domain values returned by memory operations (frozen attrs; rows stay in storage)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from athena_core._time import isoformat

if TYPE_CHECKING:
    from athena_core.storage.models import EpisodeRow, FactRow, MemoryRow

__all__ = ["Episode", "Fact", "Hit", "Memory"]


@attrs.frozen
class Memory:
    """A memory of any layer."""

    #: The public id (26 characters, sortable by creation time).
    id: str
    #: What was stored: what recall matches and embeddings are made of.
    text: str
    #: The layer that stored it.
    layer: str
    #: The scope it belongs to.
    scope: str
    #: Free JSON data stored with it, usable as a recall filter.
    metadata: Mapping[str, Any]
    #: From 0 to 1.
    importance: float
    #: When it was stored.
    created_at: datetime
    #: When it was last changed.
    updated_at: datetime
    #: When it became true (facts) or happened (episodes).
    valid_from: datetime
    #: When it stopped being true (superseded facts); ``None`` while current.
    valid_to: datetime | None

    @classmethod
    def _fields_from_row(cls, row: MemoryRow) -> dict[str, Any]:
        return {"id": row.id, "text": row.text, "layer": row.layer, "scope": row.scope,
                "metadata": dict(row.meta or {}), "importance": row.importance,
                "created_at": row.created_at, "updated_at": row.updated_at,
                "valid_from": row.valid_from, "valid_to": row.valid_to}

    @classmethod
    def from_row(cls, row: MemoryRow) -> Memory:
        """From the row :meth:`~athena_core.memory.store.Transaction.insert` returned."""
        return Memory(**Memory._fields_from_row(row))

    @classmethod
    def from_record(cls, record: Mapping[Any, Any]) -> Memory:
        """From a Core row of ``memories`` (``row._mapping``), as the hot read paths fetch."""
        return Memory(id=record["id"], text=record["text"], layer=record["layer"],
                      scope=record["scope"], metadata=dict(record["metadata"] or {}),
                      importance=record["importance"], created_at=record["created_at"],
                      updated_at=record["updated_at"], valid_from=record["valid_from"],
                      valid_to=record["valid_to"])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (timestamps as ISO-8601 strings)."""
        data = attrs.asdict(self, recurse=False)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = isoformat(value)
        data["metadata"] = dict(self.metadata)  # JSON already: checked when stored
        return data


@attrs.frozen
class Hit(Memory):
    """A memory returned by a search, with its fused relevance score (higher is better).

    Hits of episodes also carry the episode's ``kind``, ``actor``, ``session`` and
    ``outcome`` (``None`` for memories of other layers), so they can be filtered.
    """

    score: float = 0.0
    kind: str | None = None
    actor: str | None = None
    session: str | None = None
    outcome: str | None = None

    @classmethod
    def from_memory(cls, memory: Memory, score: float) -> Hit:
        return cls(**attrs.asdict(memory, recurse=False), score=score)

    @classmethod
    def from_record(cls, record: Mapping[Any, Any], score: float = 0.0) -> Hit:
        """From a row of :data:`~athena_core.storage.queries.MEMORIES_BY_KEY` (with the
        episode columns, ``None`` for other layers)."""
        return cls(**attrs.asdict(Memory.from_record(record), recurse=False), score=score,
                   **_episode_fields(record))


@attrs.frozen
class Episode(Memory):
    """An event: what happened (``content``), when (``occurred_at``), in which session."""

    session: str | None = None
    kind: str = "observation"
    outcome: str | None = None
    #: Who said or did it.
    actor: str | None = None
    #: Its place in the ``episodic.timeline`` page it came from: pass it back as
    #: ``cursor=`` for the events after it (``None`` outside a timeline). Not stored,
    #: so not exported.
    cursor: str | None = attrs.field(default=None, eq=False, metadata={"stored": False})

    @property
    def content(self) -> str:
        return self.text

    @property
    def occurred_at(self) -> datetime:
        return self.valid_from

    @property
    def context(self) -> Mapping[str, Any]:
        return self.metadata

    @classmethod
    def from_rows(cls, row: MemoryRow, episode: EpisodeRow, cursor: str | None = None
                  ) -> Episode:
        return cls(**Memory._fields_from_row(row), session=episode.session, kind=episode.kind,
                   outcome=episode.outcome, actor=episode.actor, cursor=cursor)

    @classmethod
    def from_record(cls, record: Mapping[Any, Any]) -> Episode:
        """From a row of :data:`~athena_core.storage.queries.MEMORY_BY_ID` (with the
        episode columns)."""
        return cls(**attrs.asdict(Memory.from_record(record), recurse=False),
                   **_episode_fields(record))


def _episode_fields(record: Mapping[Any, Any]) -> dict[str, Any]:
    return {name: record.get(name) for name in ("kind", "actor", "session", "outcome")}


@attrs.frozen
class Fact(Memory):
    """A semantic memory; versions of one fact share ``lineage_id``."""

    lineage_id: str = ""
    version: int = 1
    superseded_by: str | None = None
    supersede_reason: str | None = None
    #: Its place in the ``semantic.facts`` page it came from: pass it back as ``cursor=``
    #: for the facts after it (``None`` outside that listing). Not stored, so not
    #: exported.
    cursor: str | None = attrs.field(default=None, eq=False, metadata={"stored": False})

    @classmethod
    def from_rows(cls, row: MemoryRow, fact: FactRow, cursor: str | None = None) -> Fact:
        return cls(**Memory._fields_from_row(row), lineage_id=fact.lineage_id,
                   version=fact.version, superseded_by=fact.superseded_by,
                   supersede_reason=fact.supersede_reason, cursor=cursor)
