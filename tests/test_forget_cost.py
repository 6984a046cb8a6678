"""What a forget writes does not grow with the store: no whole-index work per call.

Cost is counted, not timed: the pages one ``forget`` writes to SQLite's write-ahead
log (empty before it), on a store of a few hundred memories and on one twenty times
larger. ``benchmarks/forget_cost.py`` measures the time up to a million memories.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.storage.models import FactRow
from athena_core.storage.queries import insert_row
from tests.conftest import DATABASE_URL
from tests.test_hard_forget import canary, files_containing

pytestmark = pytest.mark.skipif(bool(DATABASE_URL), reason="counts SQLite log pages")

_WORDS = [f"w{n}" for n in range(3_000)]


def fill(athena: Athena, count: int) -> None:
    """``count`` facts of varied words, written in a few transactions."""
    store, rnd = athena.store, random.Random(count)
    assert store is not None
    for start in range(0, count, 500):
        texts = [" ".join(rnd.choices(_WORDS, k=12)) for _ in range(min(500, count - start))]
        vectors = store.embed(texts)
        with store.transaction() as tx:
            for text, vector in zip(texts, vectors, strict=True):
                row = tx.insert(layer="semantic", text=text, scope="default", vector=vector)
                insert_row(tx.session, FactRow,
                           {"memory_pk": row.pk, "lineage_id": row.id, "version": 1})


def pages_one_forget_writes(athena: Athena, data_dir: Path) -> int:
    memory_id = athena.remember("a note about the quarterly planning meeting")
    athena.checkpoint()  # the log is empty now
    assert athena.forget(memory_id) == 1
    wal = data_dir / "athena.db-wal"
    return (wal.stat().st_size - 32) // (4096 + 24) if wal.exists() else 0


def test_a_forget_writes_as_much_on_a_large_store_as_on_a_small_one(
        athena_factory, tmp_path) -> None:
    written = {}
    for size in (300, 6_000):
        data_dir = tmp_path / f"store-{size}"
        athena = athena_factory(data_dir)
        fill(athena, size)
        written[size] = pages_one_forget_writes(athena, data_dir)
    # Merging the whole full-text index on every forget wrote pages in proportion to it.
    assert written[6_000] <= written[300] + 8, written


def test_the_forgotten_words_leave_the_files_at_checkpoint_and_close(athena_factory,
                                                                      data_dir) -> None:
    athena = athena_factory()
    fill(athena, 200)
    token = canary()
    memory_id = athena.remember(f"the vault code is {token}")
    athena.checkpoint()
    assert files_containing(data_dir, token)
    athena.forget(memory_id)
    assert all(token not in hit.text for hit in athena.recall(token))
    athena.checkpoint()
    assert files_containing(data_dir, token) == []


def test_a_forget_in_a_killed_process_is_merged_away_by_the_next_one(
        athena_factory, data_dir) -> None:
    first = athena_factory()
    token = canary()
    memory_id = first.remember(f"the vault code is {token}")
    first.checkpoint()
    first.forget(memory_id)
    # The pending merge is recorded in the database, not in the process that forgot.
    second = athena_factory()
    second.checkpoint()
    first.storage.close()  # as if killed: no close of its own
    second.close()
    assert files_containing(data_dir, token) == []
