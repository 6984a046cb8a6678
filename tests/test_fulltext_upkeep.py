"""The full-text index stays healthy under concurrent remember and forget.

SQLite's FTS5 keeps its index as levels of segments; past 2,000 levels it reads the
index as corrupt. Concurrent writers that forget used to add levels without end
(each forget merged the index on its own), until every recall, remember and forget
of every process failed.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path

import pytest

from athena_core import Athena
from tests.conftest import DATABASE_URL, make_config

pytestmark = pytest.mark.skipif(bool(DATABASE_URL), reason="about SQLite's FTS5 index")

#: Far below FTS5's limit (2,000); a healthy index has a handful.
MAX_LEVELS = 64


def fts_levels(db: Path) -> int:
    """The number of levels in the FTS5 structure record (a varint after a 4-byte cookie)."""
    with sqlite3.connect(db) as conn:
        block = conn.execute("SELECT block FROM memories_fts_data WHERE id = 10").fetchone()[0]
    value, at = 0, 4
    while True:
        byte = block[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value


def test_levels_stay_bounded_under_concurrent_forgets(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with Athena.open(config=make_config(tmp_path)) as athena:
        kept = athena.remember("a memory that stays about the deploy", scope="s")

        def work(seed: int) -> None:
            rnd, live = random.Random(seed), []
            try:
                for i in range(100):
                    live.append(athena.remember(f"note {seed} {i} about the deploy", scope="s"))
                    if rnd.random() < 0.5:
                        athena.forget([live.pop(0)], scope="s")
            except BaseException as exc:  # reported below, with the levels
                errors.append(exc)

        levels = []
        for round_ in range(5):
            threads = [threading.Thread(target=work, args=(10 * round_ + k,)) for k in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            levels.append(fts_levels(tmp_path / "athena.db"))
        assert not errors, (errors[:3], levels)
        assert max(levels) <= MAX_LEVELS, levels
        assert athena.recall("a memory that stays", k=1, scope="s")[0].id == kept
