"""Turning fused search keys into :class:`~athena_core.memory.Hit` values."""

from __future__ import annotations

from athena_core.errors import InvalidArgumentError
from athena_core.memory.store import MemoryStore
from athena_core.memory.values import Hit
from athena_core.retrieval.filters import RecallFilter
from athena_core.storage.queries import MEMORIES_BY_KEY

__all__ = ["MAX_K", "hybrid_recall"]

MAX_K = 1_000


def hybrid_recall(store: MemoryStore, query: str, *, k: int, where: RecallFilter
                  ) -> list[Hit]:
    """The ``k`` memories matching ``where`` most relevant to ``query``."""
    query = store.text(query, name="query")
    if not 1 <= k <= MAX_K:
        raise InvalidArgumentError(f"k must be between 1 and {MAX_K}, not {k}.")
    ranked = store.index.search(query, k=k, where=where)
    if not ranked:
        return []
    with store.storage.snapshot() as connection:
        rows = {row.pk: row._mapping for row in connection.execute(
            MEMORIES_BY_KEY, {"keys": [key for key, _ in ranked]})}
    # A row deleted between search and fetch is simply skipped.
    return [Hit.from_record(rows[key], score) for key, score in ranked if key in rows]
