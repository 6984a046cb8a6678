"""Turning fused search keys into :class:`~athena_core.memory.Hit` values."""

from __future__ import annotations

from athena_core.api.limits import ARGUMENT_LIMITS
from athena_core.memory.store import MemoryStore
from athena_core.memory.values import Hit
from athena_core.retrieval.filters import RecallFilter
from athena_core.storage.queries import MEMORIES_BY_KEY

__all__ = ["MAX_K", "hybrid_recall"]

#: The most results one search returns (the declared limit of every ``k`` argument).
MAX_K = ARGUMENT_LIMITS["k"].max_int


def hybrid_recall(store: MemoryStore, query: str, *, k: int, where: RecallFilter
                  ) -> list[Hit]:
    """The ``k`` memories matching ``where`` most relevant to ``query``.

    ``k`` is checked by the dispatcher (1 to :data:`MAX_K`), like every ``k`` argument.
    A sensitive value in ``query`` is searched for as its placeholder, as memories hold it."""
    query = store.conceal_query(store.text(query, name="query"), scope=where.scope)
    ranked = store.index.search(query, k=k, where=where)
    if not ranked:
        return []
    with store.storage.snapshot() as connection:
        rows = {row.pk: row._mapping for row in connection.execute(
            MEMORIES_BY_KEY, {"keys": [key for key, _ in ranked]})}
    # A row deleted between search and fetch is simply skipped.
    return [Hit.from_record(rows[key], score) for key, score in ranked if key in rows]
