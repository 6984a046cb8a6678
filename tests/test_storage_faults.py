"""Storage faults reach the caller as typed errors with a hint, never quoting a memory.

Each fault is injected for real (a held write lock, a page limit, a file-size limit,
file modes and owners, an empty or damaged file), and after each every write that was
acknowledged before it is still there.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from athena_core import Athena
from athena_core.errors import (
    AthenaError,
    ConfigError,
    CorruptDatabaseError,
    InvalidArgumentError,
    StorageError,
    StorageFullError,
    StorageLockedError,
    StoragePermissionError,
)
from tests.conftest import DATABASE_URL, make_config

pytestmark = pytest.mark.skipif(bool(DATABASE_URL),
                                reason="injects faults into the SQLite file of a data dir")

#: Memory text that must never appear in an error, its message or its causes.
SECRET = "Ophelia keeps the spare key under the blue flowerpot"
CHILD = Path(__file__).with_name("_fault_child.py")
PAGE = 4096
AS_ROOT = os.geteuid() == 0
TIMEOUT = 120  # seconds; a safety net against a hung child, not a performance check


def rendering(error: BaseException) -> str:
    """Everything a user may be shown of ``error``: message and traceback with causes."""
    return str(error) + "".join(traceback.format_exception(error))


def assert_typed_with_hint(error: BaseException, kind: type[AthenaError], *hint_words: str
                           ) -> None:
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    assert error.hint, "the error says what to do"
    for word in hint_words:
        assert word in error.hint, (word, error.hint)
    assert SECRET not in rendering(error)


def remember_some(athena: Athena, count: int = 5) -> dict[str, str]:
    texts = [f"acknowledged memory {n} about the harbour" for n in range(count)]
    return {athena.remember(text): text for text in texts}


def assert_intact(data_dir: Path, acknowledged: dict[str, str]) -> None:
    """Every acknowledged write is there, and nothing that was refused is."""
    with Athena.open(config=make_config(data_dir)) as athena:
        for memory_id, text in acknowledged.items():
            assert athena.get(memory_id).text == text
    with sqlite3.connect(data_dir / "athena.db") as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM memories")}
        leaked = conn.execute("SELECT count(*) FROM memories WHERE text LIKE ?",
                              (SECRET + "%",)).fetchone()[0]
    conn.close()
    assert stored >= set(acknowledged)
    assert leaked == 0, "a refused write was stored"


def prepared(data_dir: Path) -> dict[str, str]:
    """A data dir holding a few acknowledged memories, closed (write-ahead log folded in)."""
    with Athena.open(config=make_config(data_dir)) as athena:
        return remember_some(athena)


# --- lock timeout -------------------------------------------------------------------


def test_lock_timeout_is_a_typed_retryable_error(athena_factory, data_dir):
    athena = athena_factory(storage={"busy_timeout_ms": 50})
    acknowledged = remember_some(athena)
    first = next(iter(acknowledged))
    # Another connection holds SQLite's write lock.
    holder = sqlite3.connect(data_dir / "athena.db", isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for call in (lambda: athena.remember(SECRET),
                     lambda: athena.episodic.record(SECRET, session="s1"),
                     lambda: athena.semantic.update(first, SECRET),
                     lambda: athena.forget(first)):
            with pytest.raises(StorageError) as caught:
                call()
            assert_typed_with_hint(caught.value, StorageLockedError, "busy_timeout_ms")
            assert "50 ms" in caught.value.message
        assert athena.get(first).text == acknowledged[first]  # reads go on meanwhile
    finally:
        holder.rollback()
        holder.close()
    later = athena.remember("stored once the lock is free")  # a retry succeeds
    athena.close()
    assert_intact(data_dir, {**acknowledged, later: "stored once the lock is free"})


# --- full disk ----------------------------------------------------------------------


@contextlib.contextmanager
def page_limit() -> Iterator[None]:
    """Every SQLite connection opened meanwhile may grow its database by 8 pages at most:
    past that, SQLite reports SQLITE_FULL, exactly as on a full disk."""

    def limit(dbapi_conn: Any, _record: Any) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 8}")

    event.listen(Engine, "connect", limit)
    try:
        yield
    finally:
        event.remove(Engine, "connect", limit)


def test_full_disk_is_a_typed_error_and_loses_nothing(data_dir):
    acknowledged = prepared(data_dir)
    later = {}
    error: StorageError | None = None
    with page_limit(), Athena.open(config=make_config(data_dir)) as athena:
        for number in range(200):
            text = f"{SECRET} {number} " + "filler " * 300
            try:
                later[athena.remember(text)] = text
            except StorageError as exc:
                error = exc
                break
        assert error is not None, "the page limit was never reached"
        assert_typed_with_hint(error, StorageFullError, "space")
        # what was acknowledged before is still readable in the same instance
        for memory_id, text in acknowledged.items():
            assert athena.get(memory_id).text == text
    with sqlite3.connect(data_dir / "athena.db") as conn:
        count = conn.execute("SELECT count(*) FROM memories").fetchone()[0]
    conn.close()
    assert count == len(acknowledged) + len(later)  # the refused write left no trace
    with Athena.open(config=make_config(data_dir)) as athena:
        for memory_id, text in {**acknowledged, **later}.items():
            assert athena.get(memory_id).text == text


def run_child(data_dir: Path, *options: str) -> tuple[dict[str, Any], list[str]]:
    """Run :mod:`tests._fault_child`; return its report and the ids it acknowledged."""
    done = subprocess.run([sys.executable, str(CHILD), str(data_dir), SECRET, *options],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    acks = [line.split()[1] for line in lines if line.startswith("ack ")]
    return json.loads(lines[-1]), acks


def test_file_size_limit_is_a_typed_error_and_loses_nothing(data_dir):
    """The operating system refuses to grow a file (``RLIMIT_FSIZE``, as a quota does)."""
    acknowledged = prepared(data_dir)
    limit = (data_dir / "athena.db").stat().st_size + 64 * PAGE
    report, acks = run_child(data_dir, "--file-size-limit", str(limit))
    assert report["failed_at"] == "remember", report
    assert report["error"]["type"].startswith("athena_core.errors."), report
    assert "space" in report["error"]["hint"]
    assert "ulimit" in report["error"]["hint"]
    assert not report["error"]["leaks_secret"]
    with Athena.open(config=make_config(data_dir)) as athena:
        for memory_id in acks:
            assert athena.get(memory_id).text.startswith(SECRET)
    assert_intact_except_secrets(data_dir, acknowledged, len(acks))


def assert_intact_except_secrets(data_dir: Path, acknowledged: dict[str, str], extra: int
                                 ) -> None:
    with Athena.open(config=make_config(data_dir)) as athena:
        for memory_id, text in acknowledged.items():
            assert athena.get(memory_id).text == text
    with sqlite3.connect(data_dir / "athena.db") as conn:
        count = conn.execute("SELECT count(*) FROM memories").fetchone()[0]
    conn.close()
    assert count == len(acknowledged) + extra


# --- read-only and foreign-owned files ------------------------------------------------


def permission_child(data_dir: Path) -> dict[str, Any]:
    """Run the child as this user would; as root, without root's power over file modes."""
    report, _ = run_child(data_dir, *(["--no-dac-override"] if AS_ROOT else []))
    return report


def set_modes(data_dir: Path, directory: int, files: int) -> None:
    for path in data_dir.iterdir():
        path.chmod(files)
    data_dir.chmod(directory)


def assert_permission_error(report: dict[str, Any], stage: str) -> None:
    assert report["failed_at"] == stage, report
    assert report["error"]["type"] == f"athena_core.errors.{StoragePermissionError.__name__}", \
        report
    assert "permission" in report["error"]["hint"].lower()
    assert not report["error"]["leaks_secret"]


def test_read_only_data_dir_is_a_typed_error(data_dir):
    acknowledged = prepared(data_dir)
    set_modes(data_dir, 0o555, 0o444)
    try:
        report = permission_child(data_dir)
    finally:
        set_modes(data_dir, 0o700, 0o600)
    assert_permission_error(report, "open")
    assert str(data_dir) in report["error"]["message"]
    assert_intact(data_dir, acknowledged)


def test_read_only_database_file_refuses_writes_and_keeps_reading(data_dir):
    acknowledged = prepared(data_dir)
    (data_dir / "athena.db").chmod(0o444)
    try:
        report = permission_child(data_dir)
    finally:
        (data_dir / "athena.db").chmod(0o600)
    assert sorted(report["recalled"]) == sorted(acknowledged.values())
    assert_permission_error(report, "remember")  # the driver's message quoted the text
    assert_intact(data_dir, acknowledged)


@pytest.mark.skipif(not AS_ROOT, reason="making files owned by another user needs root")
def test_data_dir_owned_by_another_user_is_a_typed_error(data_dir):
    acknowledged = prepared(data_dir)
    owner = 65534  # nobody
    for path in (data_dir, *data_dir.iterdir()):
        os.chown(path, owner, owner)
    data_dir.chmod(0o755)
    (data_dir / "athena.db").chmod(0o644)
    try:
        report = permission_child(data_dir)
    finally:
        for path in (data_dir, *data_dir.iterdir()):
            os.chown(path, 0, 0)
    assert_permission_error(report, "open")
    assert f"uid {owner}" in report["error"]["message"]
    assert_intact(data_dir, acknowledged)


def test_data_dir_that_cannot_be_created_is_a_typed_error(tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        report = permission_child(parent / "athena-home")
    finally:
        parent.chmod(0o755)
    assert_permission_error(report, "open")
    assert not (parent / "athena-home").exists()


# --- database URLs and drivers ---------------------------------------------------------


@pytest.mark.parametrize(("url", "named"), [
    ("mysql://ann:hunter2@localhost/athena", "mysql"),
    ("mysql+pymysql://ann:hunter2@localhost/athena", "mysql"),
    ("oracle://ann:hunter2@localhost/athena", "oracle"),
    ("nosuchdb://ann:hunter2@localhost/athena", "nosuchdb"),
    ("not a url at all", "not a url"),
])
def test_unsupported_database_url_is_a_config_error(data_dir, url, named):
    with pytest.raises(ConfigError) as caught:
        Athena.open(config=make_config(data_dir, storage={"url": url}))
    assert named in caught.value.message
    assert "hunter2" not in rendering(caught.value)  # the password is never shown
    assert "postgresql://" in caught.value.hint
    assert "[storage] url" in caught.value.hint


def test_missing_postgres_driver_is_a_config_error(data_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    with pytest.raises(ConfigError) as caught:
        Athena.open(config=make_config(
            data_dir, storage={"url": "postgresql://ann:hunter2@localhost/athena"}))
    assert "psycopg" in caught.value.message
    assert 'pip install "athena-core[postgres]"' in caught.value.hint
    assert "hunter2" not in rendering(caught.value)


# --- empty and damaged database files ---------------------------------------------------


def test_empty_database_file_is_refused_not_recreated(data_dir):
    data_dir.mkdir(parents=True)
    path = data_dir / "athena.db"
    path.write_bytes(b"")
    for _ in range(2):  # and a second try says the same
        with pytest.raises(CorruptDatabaseError) as caught:
            Athena.open(config=make_config(data_dir))
        assert str(path) in caught.value.message
        assert "0 bytes" in caught.value.message
        assert_typed_with_hint(caught.value, CorruptDatabaseError, "backup", "athena doctor")
        assert path.read_bytes() == b""
        assert not (data_dir / "athena.db-wal").exists()


def damage_middle_pages(path: Path, seed: int = 7) -> bytes:
    """Overwrite the pages in the middle third of ``path`` with random bytes."""
    data = bytearray(path.read_bytes())
    pages = len(data) // PAGE
    garbage = random.Random(seed)
    for page in range(pages // 3, 2 * pages // 3):
        data[page * PAGE:(page + 1) * PAGE] = garbage.randbytes(PAGE)
    path.write_bytes(bytes(data))
    return bytes(data)


def big_store(data_dir: Path) -> dict[str, str]:
    with Athena.open(config=make_config(data_dir)) as athena:
        texts = [f"acknowledged memory {n} " + "about the harbour and its boats " * 20
                 for n in range(150)]
        return {athena.remember(text): text for text in texts}


def test_garbage_in_the_middle_pages_is_refused_at_open(data_dir):
    big_store(data_dir)
    path = data_dir / "athena.db"
    damaged = damage_middle_pages(path)
    for _ in range(2):
        with pytest.raises(CorruptDatabaseError) as caught:
            Athena.open(config=make_config(data_dir))
        assert str(path) in caught.value.message
        assert_typed_with_hint(caught.value, CorruptDatabaseError, "backup", "athena doctor")
        assert path.read_bytes() == damaged  # never written into


def assert_reads_find_damage_then_writes_stop(athena: Athena) -> None:
    """Reads over every layer reach the damage as CorruptDatabaseError (any other error
    fails), and from then on every write is refused with it."""
    found: CorruptDatabaseError | None = None
    for read in (lambda: athena.semantic.facts(limit=1000),
                 lambda: athena.recall("harbour boats", k=50),
                 lambda: athena.episodic.timeline()):
        try:
            read()
        except CorruptDatabaseError as exc:
            found = found or exc
    assert found is not None, "the damage was never reached"
    assert_typed_with_hint(found, CorruptDatabaseError, "backup")
    for write in (lambda: athena.remember(SECRET),
                  lambda: athena.episodic.record(SECRET)):
        with pytest.raises(CorruptDatabaseError) as caught:
            write()
        assert_typed_with_hint(caught.value, CorruptDatabaseError, "backup")
        assert "refuses writes" in caught.value.message


def test_damage_found_while_running_stops_writes(data_dir):
    """The file is damaged under an open instance (a failing disk): reads that reach the
    damage raise CorruptDatabaseError, and from then on the instance refuses writes."""
    big_store(data_dir)
    path = data_dir / "athena.db"
    athena = Athena.open(config=make_config(data_dir))
    try:
        athena.checkpoint()
        damaged = damage_middle_pages(path)
        # Another process writes (to the header page only, which the damage spares): this
        # instance's connections drop their cached pages.
        with sqlite3.connect(path, isolation_level=None) as other:
            other.execute("PRAGMA user_version = 1")
        other.close()
        wal = (data_dir / "athena.db-wal").read_bytes()
        assert_reads_find_damage_then_writes_stop(athena)
        assert path.read_bytes() == damaged
        assert (data_dir / "athena.db-wal").read_bytes() == wal
    finally:
        athena.close()


# --- lone surrogates in any text argument ---------------------------------------------

BAD = "note \ud800 " + SECRET


def _remember(name: str) -> Callable[[Athena, str], object]:
    def call(athena: Athena, fact: str) -> object:
        arguments: dict[str, Any] = {"text": "a fine text", name: BAD}
        if name == "metadata":
            arguments[name] = {"source": BAD}
        if name == "metadata key":
            del arguments[name]
            arguments["metadata"] = {BAD: 1}
        return athena.remember(**arguments)
    return call


SURROGATE_CASES = [
    pytest.param(_remember("text"), "text", id="remember-text"),
    pytest.param(_remember("scope"), "scope", id="remember-scope"),
    pytest.param(_remember("metadata"), "metadata", id="remember-metadata-value"),
    pytest.param(_remember("metadata key"), "metadata", id="remember-metadata-key"),
    pytest.param(lambda a, f: a.episodic.record(BAD), "content", id="record-content"),
    pytest.param(lambda a, f: a.episodic.record("x", session=BAD), "session",
                 id="record-session"),
    pytest.param(lambda a, f: a.episodic.record("x", actor=BAD), "actor", id="record-actor"),
    pytest.param(lambda a, f: a.episodic.record("x", kind=BAD), "kind", id="record-kind"),
    pytest.param(lambda a, f: a.episodic.record("x", outcome=BAD), "outcome",
                 id="record-outcome"),
    pytest.param(lambda a, f: a.episodic.record("x", context={"k": [BAD]}), "context",
                 id="record-context"),
    pytest.param(lambda a, f: a.semantic.update(f, "new text", reason=BAD), "reason",
                 id="update-reason"),
    pytest.param(lambda a, f: a.semantic.update(f, BAD), "text", id="update-text"),
    pytest.param(lambda a, f: a.recall(BAD), "query", id="recall-query"),
    pytest.param(lambda a, f: a.recall("x", metadata={"source": BAD}), "metadata",
                 id="recall-metadata"),
    pytest.param(lambda a, f: a.forget(session=BAD), "session", id="forget-session"),
    # An id-sized string: a longer one is refused for its length first.
    pytest.param(lambda a, f: a.forget([f, f[:25] + "\ud800"]), "ids", id="forget-ids"),
]


def store_state(athena: Athena) -> list[tuple[Any, ...]]:
    with athena.storage.snapshot() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(
            "SELECT id, scope, text, metadata, valid_to FROM memories ORDER BY id")]


@pytest.mark.parametrize(("call", "argument"), SURROGATE_CASES)
def test_lone_surrogate_is_refused_up_front(athena, call, argument):
    fact = athena.remember("the ferry leaves at nine")
    athena.episodic.record("boarded the ferry", session="s1")
    before = store_state(athena)
    with pytest.raises(InvalidArgumentError) as caught:
        call(athena, fact)
    message = str(caught.value)
    assert repr(argument) in message, message
    assert "surrogate" in message
    assert "Ophelia" not in rendering(caught.value)  # the text itself is never quoted
    assert store_state(athena) == before
