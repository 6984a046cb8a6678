"""The dense half of a filtered recall: how a vector backend meets a filter on metadata or
episode fields, which its entries do not hold.

A backend entry knows its scope, layer and validity window, never a memory's
metadata, session, actor or kind. For a :class:`RecallFilter` that looks at those
(:attr:`~RecallFilter.by_attributes`):

1. a :class:`~athena_core.retrieval.vectors.FilteringVectorBackend` whose entries sit in
   Athena's database is given the filter as a SQL predicate, and applies it inside its
   own search (``pgvector``);
2. otherwise the backend is asked for more candidates than needed, ``k·f``, under the
   part of the filter it applies itself, and the database keeps those that pass the
   whole filter (one statement, the candidates bound as one value); ``f`` grows from
   what the previous round let through, until ``k`` pass or the backend has no more;
3. when that would take more than :data:`MAX_CANDIDATES` candidates (a filter that
   passes very few memories), the vectors of the memories passing the filter are read
   from the database and scored directly, in batches.

Every step is bounded: no statement binds more than a handful of values, and no
list of all matching keys is ever built.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import FilteringVectorBackend, VectorBackend, best_first
from athena_core.storage.models import MemoryRow
from athena_core.storage.queries import in_keys, memory_conditions, memory_matches

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MAX_CANDIDATES", "filtered_search"]

#: The first round asks the backend for this many times ``k``.
FIRST_FACTOR = 4
#: Past this many candidates, the memories passing the filter are scored directly.
MAX_CANDIDATES = 20_000
#: Vectors read per batch when scoring directly.
_SCORE_BATCH = 10_000

Scored = list[tuple[int, float]]


def filtered_search(backend: VectorBackend, vector: np.ndarray, *, k: int, where: RecallFilter,
                    read: Callable[[], AbstractContextManager[Session]],
                    lock: AbstractContextManager[Any],
                    vector_table: Callable[[Session], Table | None]) -> Scored:
    """The ``k`` best ``(key, cosine)`` pairs passing ``where``, best first.

    ``read`` opens a read session on Athena's database; ``lock`` is held around each
    call to the backend; ``vector_table`` gives, in a read session, the table holding the
    vectors of the query's embedder (``None`` if the store no longer uses it: a reindex
    elsewhere), for scoring the matching memories directly.
    """
    def search(k: int, where: RecallFilter) -> Scored:
        with lock:
            return backend.search(vector, k=k, where=where)

    if not where.by_attributes:
        return search(k, where)
    base = where.without_attributes()
    if isinstance(backend, FilteringVectorBackend):
        with lock:
            matching = backend.search_matching(
                vector, k=k, where=base, predicate=lambda key: memory_matches(where, key))
        if matching is not None:
            return matching
    wanted = FIRST_FACTOR * k
    checked: dict[int, bool] = {}
    while True:
        found = search(wanted, base)
        unchecked = [key for key, _ in found if key not in checked]
        if unchecked:
            with read() as session:
                passing = set(session.scalars(select(MemoryRow.pk).where(
                    in_keys(MemoryRow.pk, unchecked), memory_conditions(where))))
            checked.update((key, key in passing) for key in unchecked)
        kept = [(key, score) for key, score in found if checked[key]]
        if len(kept) >= k or len(found) < wanted:  # enough, or the backend has no more
            return kept[:k]
        if wanted >= MAX_CANDIDATES:
            return _scored_directly(read, vector_table, vector, k=k, where=where)
        # Enough for k at the share of candidates that passed so far, with a margin.
        share = max(len(kept), 1) / len(found)
        wanted = min(MAX_CANDIDATES, max(4 * wanted, int(2 * k / share)))


def _scored_directly(read: Callable[[], AbstractContextManager[Session]],
                     vector_table: Callable[[Session], Table | None], vector: np.ndarray,
                     *, k: int, where: RecallFilter) -> Scored:
    """Cosine of the query with the vector of every memory passing ``where``, read from
    the database in batches; the ``k`` best (none if the store's vectors are no longer
    the query embedder's: they are never compared across models)."""
    import numpy as np

    best_keys = np.zeros(0, dtype=np.int64)
    best_scores = np.zeros(0, dtype=np.float32)
    with read() as session:
        table = vector_table(session)
        if table is None:
            return []
        statement = (select(table.c.memory_pk, table.c.vector)
                     .join(MemoryRow, MemoryRow.pk == table.c.memory_pk)
                     .where(memory_conditions(where)))
        result = session.execute(statement.execution_options(yield_per=_SCORE_BATCH))
        for rows in result.partitions():
            keys = np.fromiter((key for key, _ in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32
                                    ).reshape(len(rows), -1)
            best_keys = np.concatenate([best_keys, keys])
            best_scores = np.concatenate([best_scores, vectors @ vector])
            top = best_first(best_scores, min(k, len(best_scores)))
            best_keys, best_scores = best_keys[top], best_scores[top]
    return [(int(key), float(score))
            for key, score in zip(best_keys, best_scores, strict=True)]
