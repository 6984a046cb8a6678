"""Storage faults on PostgreSQL become the same typed errors as on SQLite.

Run by the ``postgres`` tox environment (``tests/run_postgres_tests.py``); skipped on
SQLite, whose faults ``tests/test_storage_faults.py`` injects. Each test checks that
the error is typed, has a hint, never quotes the memory, and that every write
acknowledged before the fault is still there.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import (
    StorageFullError,
    StorageLockedError,
    StoragePermissionError,
)
from tests import pg_server
from tests.conftest import DATABASE_URL, _empty_database, make_config
from tests.test_storage_faults import (
    SECRET,
    assert_reads_find_damage_then_writes_stop,
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
    assert all(SECRET not in hit.text for hit in athena.recall(SECRET))


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


def _config_for(url: str, data_dir: Path) -> Config:
    return Config.from_mapping({"storage": {"url": url}, "retrieval": {"embedder": "hashing"},
                                "plugins": {"strict": True}}, data_dir=data_dir, env={})


def test_a_full_disk_is_a_typed_error_and_writes_resume_once_space_is_freed(tmp_path: Path
                                                                             ) -> None:
    """A server of its own, on a 64 MiB disk that its superuser fills with a file: every
    write is refused with StorageFullError (SQLSTATE 53100), and once the file is gone
    writes succeed again, with every earlier one intact."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    if shutil.which("bwrap") is None and os.environ.get("ATHENA_REQUIRE_SANDBOX") != "1":
        pytest.skip("a small disk for the server needs bubblewrap (bwrap)")
    with pg_server.on_small_disk(tmp_path / "server", megabytes=64) as url:
        filler = f"{pg_server.SMALL_DISK}/filler"
        admin = create_engine(url)
        with Athena.open(config=_config_for(url, tmp_path / "home")) as athena:
            acknowledged = remember_some(athena)
            with admin.connect() as conn, pytest.raises(OperationalError):  # disk now full
                conn.execute(text(f"COPY (SELECT repeat('x', 1000000) "
                                  f"FROM generate_series(1, 200)) TO '{filler}'"))
            for write in (lambda: athena.remember(SECRET + " " + "tide " * 50_000),
                          lambda: athena.episodic.record(SECRET + " " + "tide " * 50_000,
                                                         session="s1")):
                with pytest.raises(StorageFullError) as caught:
                    write()
                assert_typed_with_hint(caught.value, StorageFullError, "Free disk space")
            assert athena.get(next(iter(acknowledged))).text  # reads go on meanwhile
            with admin.connect() as conn:
                conn.execute(text(f"COPY (SELECT '') TO '{filler}'"))  # space freed
            later = athena.remember("stored once there is space again")
            _stored(athena, {**acknowledged, later: "stored once there is space again"})
        admin.dispose()


def test_a_damaged_table_is_a_typed_error_and_stops_writes(tmp_path: Path) -> None:
    """A server of its own whose memories table gets a garbage page header while it is
    stopped: reads that reach the page raise CorruptDatabaseError (SQLSTATE XX001), and
    from then on the instance refuses writes; the file is not written into."""
    from sqlalchemy import create_engine, text

    directory = tmp_path / "server"
    home = tmp_path / "home"
    with pg_server.running(directory) as url:
        with Athena.open(config=_config_for(url, home)) as athena:
            remember_some(athena, count=20)
        admin = create_engine(url)
        with admin.connect() as conn:
            relative = conn.execute(text("SELECT pg_relation_filepath('memories')")).scalar()
            conn.execute(text("CHECKPOINT"))
        admin.dispose()
    table = directory / pg_server.PGDATA / str(relative)
    data = bytearray(table.read_bytes())
    data[:24] = b"\xff" * 24  # block 0's page header: lower and upper pointers past the page
    table.write_bytes(bytes(data))
    with pg_server.running(directory) as url, \
            Athena.open(config=_config_for(url, home)) as athena:
        assert_reads_find_damage_then_writes_stop(athena)
    assert table.read_bytes()[:24] == b"\xff" * 24
