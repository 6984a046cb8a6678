"""Storage faults on PostgreSQL become the same typed errors as on SQLite.

Run by the ``postgres`` tox environment (``tests/run_postgres_tests.py``); skipped on
SQLite, whose faults ``tests/test_storage_faults.py`` injects. Each test checks that
the error is typed, has a hint, never quotes the memory, and that every write
acknowledged before the fault is still there.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import StorageLockedError, StoragePermissionError
from tests.conftest import DATABASE_URL, _empty_database, make_config
from tests.test_storage_faults import (
    SECRET,
    assert_typed_with_hint,
    remember_some,
)

pytestmark = pytest.mark.skipif(not DATABASE_URL,
                                reason="PostgreSQL faults (ATHENA_TEST_DATABASE_URL)")

#: The advisory lock every Athena write transaction takes (storage/engine.py).
WRITE_LOCK = 0x41_7468_656E_61


def _engine(url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _stored(athena: Athena, acknowledged: dict[str, str]) -> None:
    for memory_id, text in acknowledged.items():
        assert athena.get(memory_id).text == text
    assert athena.recall(SECRET) == [] or all(SECRET not in hit.text
                                              for hit in athena.recall(SECRET))


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """A data dir, on an empty database."""
    _empty_database()
    return tmp_path / "home"


def test_lock_timeout_is_a_typed_retryable_error(fresh: Path) -> None:
    from sqlalchemy import text

    with Athena.open(config=make_config(fresh, storage={"busy_timeout_ms": 50})) as athena:
        acknowledged = remember_some(athena)
        first = next(iter(acknowledged))
        holder = _engine(DATABASE_URL).connect()
        holder.execute(text("BEGIN"))
        holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
        try:
            for call in (lambda: athena.remember(SECRET),
                         lambda: athena.episodic.record(SECRET, session="s1"),
                         lambda: athena.forget(first)):
                with pytest.raises(StorageLockedError) as caught:
                    call()
                assert_typed_with_hint(caught.value, StorageLockedError, "busy_timeout_ms")
            assert athena.get(first).text == acknowledged[first]  # reads go on meanwhile
        finally:
            holder.rollback()
            holder.close()
        later = athena.remember("stored once the lock is free")  # a retry succeeds
        _stored(athena, {**acknowledged, later: "stored once the lock is free"})


def test_a_role_without_write_privileges_is_a_typed_error(fresh: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    with Athena.open(config=make_config(fresh)) as athena:
        acknowledged = remember_some(athena)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    admin = _engine(DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    try:
        url = make_url(DATABASE_URL).set(username=role).render_as_string(hide_password=False)
        config = Config.from_mapping({"storage": {"url": url},
                                      "retrieval": {"embedder": "hashing"},
                                      "plugins": {"strict": True}}, data_dir=fresh, env={})
        with Athena.open(config=config) as reader:
            assert reader.get(next(iter(acknowledged))).text  # reading is allowed
            with pytest.raises(StoragePermissionError) as caught:
                reader.remember(SECRET)
            assert_typed_with_hint(caught.value, StoragePermissionError)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()
    with Athena.open(config=make_config(fresh)) as athena:
        _stored(athena, acknowledged)
