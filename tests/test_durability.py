"""Commit durability: memories wait for the disk flush; execution records may opt out."""

from __future__ import annotations

import threading

from athena_core.storage import Storage


def _durability(storage: Storage) -> str:
    """The flush level a write transaction on ``storage`` commits with, here and now."""
    with storage.write() as session:
        if storage.dialect == "sqlite":
            level = session.connection().exec_driver_sql("PRAGMA synchronous").scalar()
            return {0: "off", 1: "normal", 2: "full", 3: "extra"}[level]
        return session.connection().exec_driver_sql("SHOW synchronous_commit").scalar()


def test_writes_wait_for_the_flush_unless_deferred_and_the_level_does_not_leak(athena) -> None:
    storage = athena.storage
    durable = _durability(storage)
    if storage.dialect == "sqlite":
        assert durable == "full"  # the default [storage] synchronous
    with storage.deferred_flush():
        assert _durability(storage) == ("normal" if storage.dialect == "sqlite" else "off")
        athena.remember("written while deferred")
    # The pooled connection is reused: the next ordinary write is durable again.
    assert _durability(storage) == durable
    assert [h.text for h in athena.recall("written while deferred", k=1)] == \
        ["written while deferred"]


def test_deferral_is_per_thread_and_per_storage(athena, athena_factory, tmp_path) -> None:
    storage = athena.storage
    seen: list[str] = []
    with storage.deferred_flush():
        worker = threading.Thread(target=lambda: seen.append(_durability(storage)))
        worker.start()
        worker.join()
        if storage.dialect == "sqlite":
            other = athena_factory(tmp_path / "other")
            assert _durability(other.storage) == "full"
    assert seen == [_durability(storage)]
