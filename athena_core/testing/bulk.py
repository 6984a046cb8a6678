"""Filling a store fast, for tests and benchmarks at scale.

:func:`bulk_fill` writes memories straight into the tables in large batches, with
random unit vectors instead of embeddings, so that a store of hundreds of
thousands of memories is built in seconds. The memories are real rows (full-text
indexed, with vectors, facts or episode rows) that every read path sees, and the
recall index picks them up on its next search like any other process's writes.
It bypasses what the write path adds (sensitive-value detection, events, the
embedder): never use it on a store that holds real memories.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy import text as sql_text

from athena_core import _ids
from athena_core._time import utcnow
from athena_core.storage.models import Base, EmbeddingRow, EpisodeRow, FactRow, MemoryRow

if TYPE_CHECKING:
    from athena_core.runtime import Athena

__all__ = ["bulk_fill"]

#: Rows per ``INSERT`` statement batch.
_BATCH = 20_000


def bulk_fill(athena: Athena, count: int, *, layer: str = "semantic", scope: str = "default",
              text: Callable[[int], str] = lambda i: f"memory number {i}",
              metadata: Callable[[int], Mapping[str, Any]] = lambda i: {},
              session: Callable[[int], str | None] = lambda i: None,
              actor: Callable[[int], str | None] = lambda i: None,
              kind: Callable[[int], str] = lambda i: "observation",
              start: datetime | None = None, seed: int = 0) -> list[int]:
    """Insert ``count`` memories of ``layer`` (``"semantic"`` or ``"episodic"``) into
    ``scope`` and return their internal keys.

    Memory ``i`` gets ``text(i)`` and ``metadata(i)``, a random unit vector, and the
    time ``start + i`` milliseconds (``start`` defaults to now); episodes also get
    ``session(i)``, ``actor(i)`` and ``kind(i)``.
    """
    import numpy as np

    if layer not in ("semantic", "episodic"):
        raise ValueError(f"bulk_fill writes semantic or episodic memories, not {layer!r}")
    store = athena.store
    assert store is not None, "Athena is closed"
    rng = np.random.default_rng(seed)
    dimension = store.index.embedder.dimension
    start = start or utcnow()
    # Ids of the usual alphabet and length: a fresh id's time and random part, then a count.
    prefix = _ids.new_id()[:16]
    keys: list[int] = []
    with store.storage.write() as db:
        connection = db.connection()
        # Keys are given, not returned one row at a time: the write lock is held.
        first = (connection.scalar(select(func.max(MemoryRow.pk))) or 0) + 1
        for offset in range(0, count, _BATCH):
            numbers = range(offset, min(offset + _BATCH, count))
            pks = [first + i for i in numbers]
            ids = [prefix + _count(i) for i in numbers]
            rows: list[dict[str, Any]] = []
            for i, pk, id in zip(numbers, pks, ids, strict=True):
                when = start + timedelta(milliseconds=i)
                rows.append({"pk": pk, "id": id, "scope": scope,
                             "layer": layer, "text": text(i), "metadata": dict(metadata(i)),
                             "importance": 0.5, "created_at": when, "updated_at": when,
                             "valid_from": when, "valid_to": None})
            connection.execute(insert(_table(MemoryRow)), rows)
            vectors = rng.standard_normal((len(rows), dimension)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            connection.execute(insert(_table(EmbeddingRow)),
                               [{"memory_pk": pk, "vector": vector.tobytes()}
                                for pk, vector in zip(pks, vectors, strict=True)])
            if layer == "semantic":
                connection.execute(insert(_table(FactRow)),
                                   [{"memory_pk": pk, "lineage_id": id, "version": 1}
                                    for pk, id in zip(pks, ids, strict=True)])
            else:
                connection.execute(insert(_table(EpisodeRow)), [
                    {"memory_pk": pk, "session": session(i), "kind": kind(i),
                     "outcome": None, "actor": actor(i),
                     "content_hash": hashlib.sha256(id.encode()).hexdigest()}
                    for i, pk, id in zip(numbers, pks, ids, strict=True)])
            keys.extend(pks)
        if connection.dialect.name == "postgresql":  # the key sequence goes on after them
            connection.execute(sql_text("SELECT setval(pg_get_serial_sequence('memories', 'pk'), "
                                    "(SELECT max(pk) FROM memories))"))
    return keys


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _count(number: int) -> str:
    """``number`` as 10 characters of the id alphabet."""
    chars = []
    for _ in range(10):
        number, digit = divmod(number, 32)
        chars.append(_ids.ALPHABET[digit])
    return "".join(reversed(chars))
