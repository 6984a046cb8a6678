"""A damaged, foreign or too-new database is reported clearly and never overwritten."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.errors import (
    AthenaError,
    CorruptDatabaseError,
    SchemaVersionError,
    StorageError,
)
from tests.conftest import DATABASE_URL, make_config

pytestmark = pytest.mark.skipif(bool(DATABASE_URL),
                                reason="works on the SQLite file of a data dir")

PAGE = 4096


def open_athena(data_dir: Path) -> Athena:
    return Athena.open(config=make_config(data_dir))


def write_db(data_dir: Path, data: bytes) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "athena.db"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> bytes:
    """The bytes of a healthy database with a few hundred memories."""
    home = tmp_path_factory.mktemp("real") / "athena-home"
    with open_athena(home) as athena:
        for i in range(200):
            athena.remember(f"memory number {i} " + "lorem ipsum dolor sit amet " * 15)
            if i % 20 == 0:
                athena.episodic.record(f"event number {i}")
    # Closing the last connection folds the write-ahead log into the file.
    assert not (home / "athena.db-wal").exists()
    data = (home / "athena.db").read_bytes()
    assert len(data) > 50 * PAGE
    return data


def assert_reported_and_untouched(data_dir: Path, path: Path, original: bytes) -> None:
    with pytest.raises(CorruptDatabaseError) as caught:
        open_athena(data_dir)
    message = str(caught.value)
    assert str(path) in message
    assert "backup" in message  # says what to do about it
    assert caught.value.hint
    assert isinstance(caught.value, StorageError)
    assert path.read_bytes() == original  # never silently replaced or "repaired"
    with pytest.raises(CorruptDatabaseError):  # and a second try says the same
        open_athena(data_dir)
    assert path.read_bytes() == original


@pytest.mark.parametrize("garbage", [
    pytest.param(random.Random(1).randbytes(64 * 1024), id="random-bytes"),
    pytest.param(b"these are my notes, not a database\n" * 10, id="text"),
    pytest.param(bytes(8 * PAGE), id="zeros"),
    pytest.param(b"SQLite format 3\x00" + random.Random(2).randbytes(4 * PAGE),
                 id="magic-then-junk"),
])
def test_garbage_file_is_reported_not_replaced(data_dir, garbage):
    path = write_db(data_dir, garbage)
    assert_reported_and_untouched(data_dir, path, garbage)


@pytest.mark.parametrize("keep", [100, PAGE, 0.5], ids=["header-only", "first-page", "half"])
def test_truncated_database_is_reported_not_replaced(data_dir, real_db, keep):
    cut = real_db[:keep if isinstance(keep, int) else int(len(real_db) * keep)]
    path = write_db(data_dir, cut)
    assert_reported_and_untouched(data_dir, path, cut)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75])
def test_zeroed_page_gives_typed_errors_only(data_dir, real_db, fraction):
    """A page wiped by a crash: whatever fails, fails with Athena's error, not a driver's."""
    page = int(len(real_db) // PAGE * fraction)
    damaged = real_db[:page * PAGE] + bytes(PAGE) + real_db[(page + 1) * PAGE:]
    path = write_db(data_dir, damaged)
    error: AthenaError | None = None
    try:
        with open_athena(data_dir) as athena:
            athena.storage.integrity_problems()
            athena.recall("memory number 7 lorem", k=50)
            athena.episodic.timeline()
    except AthenaError as exc:  # anything else fails the test by propagating
        error = exc
    if error is not None:
        assert isinstance(error, CorruptDatabaseError), error
        assert str(path) in str(error)


def test_database_of_another_application_is_refused(data_dir):
    path = data_dir / "athena.db"
    data_dir.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'Ann')")
    conn.close()

    with pytest.raises(StorageError) as caught:
        open_athena(data_dir)
    assert not isinstance(caught.value, CorruptDatabaseError)
    assert str(path) in str(caught.value)
    assert "not Athena's" in str(caught.value)
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        rows = conn.execute("SELECT * FROM customers").fetchall()
    conn.close()
    assert tables == ["customers"]  # nothing of Athena's was created in it
    assert rows == [(1, "Ann")]


def test_database_of_another_application_keeps_its_journal_mode(data_dir):
    """Refusing a foreign database must not convert it to write-ahead logging either."""
    path = data_dir / "athena.db"
    data_dir.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    original = path.read_bytes()

    with pytest.raises(StorageError):
        open_athena(data_dir)
    with sqlite3.connect(path) as conn:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert mode == "delete"
    assert path.read_bytes() == original


def test_database_from_a_newer_athena_is_refused_and_left_alone(data_dir):
    with open_athena(data_dir) as athena:
        kept = athena.remember("written by the newer version")
    path = data_dir / "athena.db"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.close()
    original = path.read_bytes()

    with pytest.raises(SchemaVersionError) as caught:
        open_athena(data_dir)
    assert isinstance(caught.value, StorageError)
    assert "'9999'" in str(caught.value)
    assert "upgrade" in str(caught.value).lower()
    assert path.read_bytes() == original  # no downgrade, no re-migration
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("9999",)]
        assert conn.execute("SELECT id FROM memories").fetchall() == [(kept,)]
    conn.close()
