"""The database: engines, transactions, schema upgrades, corruption and lock handling.

SQLite (the default) runs in WAL mode with a busy timeout and foreign keys on.
Writes use ``BEGIN IMMEDIATE`` so that two processes never deadlock upgrading
read locks (the usual source of "database is locked"); reads use deferred
transactions and never block writers. On PostgreSQL, write transactions take
one advisory lock, waiting at most ``busy_timeout_ms`` for it, so writes are
serialised the same way on both databases (vector sync relies on rows becoming
visible in key order); reads run at REPEATABLE READ, so that a read session
sees one snapshot as on SQLite; creating or upgrading the schema takes
another advisory lock, so processes opening a new database at once do not race.

Faults become typed errors (see :mod:`athena_core.storage.faults`). A SQLite file is
checked when opened: an empty file or one without SQLite's header is refused, and
one of at most ``[storage] open_check_mb`` gets ``PRAGMA quick_check``. Damage met
later makes the instance refuse every further write.
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, create_engine, event, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler

from athena_core._locks import held, open_lock
from athena_core.config import StorageConfig
from athena_core.errors import (
    ConfigError,
    CorruptDatabaseError,
    SchemaVersionError,
    StorageError,
)
from athena_core.storage.faults import (
    CORRUPT_HINT,
    DRIVER_ERRORS,
    FaultSite,
    database_url,
    file_errors,
    is_corrupt,
    translate,
)

__all__ = ["SCHEMA_HEAD", "Storage"]

#: The newest migration; a test checks it matches the migrations directory.
SCHEMA_HEAD = "0010"
#: Key of the PostgreSQL advisory lock that serialises Athena's write transactions.
_PG_WRITE_LOCK = 0x41_7468_656E_61  # "Athena"
#: Key of the PostgreSQL advisory lock held while the schema is created or upgraded.
_PG_MIGRATE_LOCK = _PG_WRITE_LOCK + 1
#: The Storage whose write transactions skip waiting for the disk flush in this context.
_DEFERRED: contextvars.ContextVar[Storage | None] = contextvars.ContextVar(
    "athena_deferred_flush", default=None)
#: The first 16 bytes of every SQLite database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"


class Storage:
    """One database, opened for one :class:`~athena_core.Athena` instance."""

    def __init__(self, url: str, settings: StorageConfig) -> None:
        self.url = database_url(_with_driver(url))
        self.settings = settings
        self.dialect = self.url.get_backend_name()
        self.path = Path(self.url.database) if self.dialect == "sqlite" and self.url.database \
            else None
        self._site = FaultSite(self._where(), self.path, settings.busy_timeout_ms)
        #: Set once damage was found in this database: every later write is refused.
        self._damaged = False
        try:
            self._read_engine = self._make_engine(write=False)
            self._write_engine = (self._make_engine(write=True) if self.dialect == "sqlite"
                                  else self._read_engine)
        except ImportError as exc:
            raise ConfigError(
                f"[storage] url needs the Python driver {exc.name!r}, which is not installed.",
                hint='pip install "athena-core[postgres]" installs the PostgreSQL driver.'
                if self.dialect == "postgresql" else "Install that driver.") from None
        if self.dialect == "postgresql":  # one pool; reads see one snapshot each
            self._read_engine = self._write_engine.execution_options(
                isolation_level="REPEATABLE READ")
        self._read = sessionmaker(self._read_engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        #: A connection of its own that only asks SQLite whether anyone committed.
        self._watcher: sqlite3.Connection | None = None
        self._watcher_lock = threading.Lock()
        self._watchable = self.path is not None and self.url.database != ":memory:"
        self._peeks: dict[Select[Any], SQLCompiler] = {}
        self.closed = False

    @classmethod
    def open(cls, url: str, settings: StorageConfig | None = None) -> Storage:
        """Open (creating or upgrading as needed) the database at ``url``."""
        storage = cls(url, settings or StorageConfig())
        try:
            storage._prepare()
        except BaseException:
            storage.close()
            raise
        return storage

    # --- transactions ------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session over one consistent snapshot."""
        self._require_open()
        with self._translated(), self._read() as session:
            yield session  # closing (not rolling back) keeps loaded rows usable

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A Core connection over one consistent snapshot: the fast path for hot reads."""
        self._require_open()
        with self._translated(), self._read_engine.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed when the block exits without an exception."""
        self._require_open()
        if self._damaged:
            raise CorruptDatabaseError(
                f"{self._where()} was found damaged earlier; this instance refuses writes "
                "to it.", hint=CORRUPT_HINT)
        with self._translated(), self._write() as session, session.begin():
            if self.dialect == "postgresql":
                self._pg_lock(session, _PG_WRITE_LOCK)
                if _DEFERRED.get() is self:
                    session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield session

    @contextlib.contextmanager
    def deferred_flush(self) -> Iterator[None]:
        """Write transactions in this block commit without waiting for the disk flush.

        Such a commit survives the process being killed, but a power cut or OS crash may
        lose it (SQLite ``synchronous = NORMAL``, PostgreSQL ``synchronous_commit = off``,
        for those transactions only). For records whose loss costs less than the wait.
        """
        token = _DEFERRED.set(self)
        try:
            yield
        finally:
            _DEFERRED.reset(token)

    def _pg_lock(self, session: Any, key: int) -> None:
        """Take advisory lock ``key`` for the transaction, waiting ``busy_timeout_ms`` at most.

        The timeout stays set for the rest of the transaction, like SQLite's busy timeout.
        """
        # lock_timeout 0 would mean "wait forever"; busy_timeout_ms 0 means "do not wait".
        timeout = f"{max(int(self.settings.busy_timeout_ms), 1)}ms"
        session.execute(text("SELECT set_config('lock_timeout', :timeout, true)"),
                        {"timeout": timeout})
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def checkpoint(self) -> None:
        """Move the SQLite write-ahead log into the database file and truncate it.

        Raises :class:`StorageError` if another connection's open transaction kept
        the checkpoint from completing.
        """
        if self.dialect != "sqlite":
            return
        self._require_open()
        with self._translated():
            busy = self._pragma_outside_transaction("PRAGMA wal_checkpoint(TRUNCATE)")[0]
        if busy:
            raise StorageError(
                f"{self._where()}: the checkpoint could not finish because another "
                "connection was reading or writing.", hint="Try again when it is idle.")

    def _pragma_outside_transaction(self, pragma: str) -> tuple[Any, ...]:
        """Run a pragma that SQLite refuses inside a transaction (checkpoint, journal_mode)."""
        raw = self._write_engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(pragma)
            row = tuple(cursor.fetchone() or ())
            cursor.close()
            return row
        finally:
            raw.close()

    def integrity_problems(self) -> list[str]:
        """``PRAGMA quick_check`` findings (SQLite); an empty list means healthy."""
        if self.dialect != "sqlite":
            return []
        with self._translated(), self._read_engine.connect() as conn:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check")]
        return [] if rows == ["ok"] else rows

    def schema_revision(self) -> str | None:
        with self._read_engine.connect() as conn:
            try:
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            except (OperationalError, DatabaseError) as exc:
                if is_corrupt(exc):
                    raise
                conn.rollback()
                return None

    def commit_counter(self) -> int | None:
        """A number that changes whenever a connection commits to this database, in any
        process; ``None`` where the database cannot tell cheaply (PostgreSQL, SQLite in
        memory), and callers must read again.

        SQLite's ``PRAGMA data_version`` on a connection of Storage's own that never
        writes: a few microseconds, so that hot paths can keep what they read until the
        database changes.
        """
        if not self._watchable:
            return None
        with self._watching() as watcher:
            return int(watcher.execute("PRAGMA data_version").fetchone()[0])

    def peek(self, statement: Select[Any], params: Mapping[str, Any]) -> Row[Any] | None:
        """The first row of a small indexed read, for paths run after every operation:
        on SQLite through the same connection of Storage's own, without SQLAlchemy's
        per-statement cost (``statement`` is compiled once); elsewhere a snapshot read."""
        if not self._watchable:
            with self.snapshot() as connection:
                return connection.execute(statement, dict(params)).first()
        compiled = self._peeks.get(statement)
        if compiled is None:
            compiled = self._peeks[statement] = statement.compile(
                dialect=self._read_engine.dialect)
        bound = compiled.construct_params(dict(params)) or {}
        values = [bound[name] for name in compiled.positiontup or ()]
        with self._watching() as watcher:
            return watcher.execute(compiled.string, values).fetchone()  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def _watching(self) -> Iterator[sqlite3.Connection]:
        self._require_open()
        with self._watcher_lock, self._translated():
            if self._watcher is None:
                self._watcher = sqlite3.connect(self.path or "", check_same_thread=False,
                                                isolation_level=None)
                self._watcher.execute(f"PRAGMA busy_timeout = {int(self.settings.busy_timeout_ms)}")
            yield self._watcher

    def close(self) -> None:
        self.closed = True
        with self._watcher_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
        if not hasattr(self, "_write_engine"):  # the engines could not be made
            return
        self._write_engine.dispose()
        if self.dialect == "sqlite":
            self._read_engine.dispose()

    def _require_open(self) -> None:
        if self.closed:
            raise StorageError("This Athena instance is closed.",
                               hint="Open a new one with Athena.open().")

    # --- set-up ------------------------------------------------------------

    def _make_engine(self, *, write: bool) -> Engine:
        if self.dialect != "sqlite":
            return create_engine(self.url, pool_pre_ping=True)
        engine = create_engine(self.url)
        settings = self.settings

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(settings.busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA synchronous = {settings.synchronous.upper()}")
            cursor.execute("PRAGMA secure_delete = ON")  # forgotten text is overwritten
            cursor.close()

        begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        durable = settings.synchronous.upper()
        deferred = "NORMAL" if durable in ("FULL", "EXTRA") else durable

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Straight to the driver: this runs before every transaction, hot reads included.
            driver = conn.connection.driver_connection
            if write:  # the level can only change outside a transaction: set it here
                wanted = deferred if _DEFERRED.get() is self else durable
                info = conn.connection.info
                if info.get("athena_synchronous", durable) != wanted:
                    driver.execute(f"PRAGMA synchronous = {wanted}")
                    info["athena_synchronous"] = wanted
            driver.execute(begin)

        return engine

    def _prepare(self) -> None:
        if self.path is not None:
            with file_errors(self.path.parent):
                self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._translated():
            # A missing or empty file is looked at under the migration lock only: a process
            # creating the database holds it from the first connection (which creates the
            # empty file) until the schema is committed, so an empty file seen under the
            # lock was left behind, not in the middle of being made.
            new = self.path is not None and _is_missing_or_empty(self.path)
            if not new:
                self._check_file()
            if new or self.schema_revision() != SCHEMA_HEAD:
                with self._migration_lock():
                    self._check_file()
                    current = self.schema_revision()  # another process may have just upgraded
                    if current != SCHEMA_HEAD:
                        self._upgrade(current)
            self._quick_check()
            self._use_wal()

    def _check_file(self) -> None:
        """Refuse an empty file, or one that does not start with SQLite's header."""
        if self.path is None or not self.path.exists():
            return
        with file_errors(self.path), self.path.open("rb") as file:
            header = file.read(len(_SQLITE_MAGIC))
        if not header:
            raise CorruptDatabaseError(
                f"{self._where()} is empty (0 bytes), so it holds no database; Athena does "
                "not make a new one in its place.",
                hint="If this data dir never held memories (a first start that was "
                     "interrupted), delete the file. " + CORRUPT_HINT)
        if header != _SQLITE_MAGIC:
            raise CorruptDatabaseError(
                f"{self._where()} is damaged: it does not start with SQLite's header, so it "
                "is not a readable Athena database.", hint=CORRUPT_HINT)

    def _quick_check(self) -> None:
        """``PRAGMA quick_check`` at open, for a file of at most ``open_check_mb``."""
        if self.path is None or not self.path.exists():
            return
        if self.path.stat().st_size > self.settings.open_check_mb * 1024 * 1024:
            return
        with self._read_engine.connect() as conn:
            finding = conn.exec_driver_sql("PRAGMA quick_check(1)").scalar()
        if finding != "ok":
            raise CorruptDatabaseError(
                f"{self._where()} is damaged: SQLite's quick_check found "
                f"{str(finding)[:200]!r}.", hint=CORRUPT_HINT)

    def _use_wal(self) -> None:
        """Switch SQLite to WAL; persistent in the file, so done once we know the file is ours."""
        if self.dialect == "sqlite":
            mode = self._pragma_outside_transaction("PRAGMA journal_mode")[0]
            if str(mode).lower() != "wal":
                self._pragma_outside_transaction("PRAGMA journal_mode = WAL")

    def _upgrade(self, current: str | None) -> None:
        from athena_core.storage import migrations

        if current is None and self._has_foreign_tables():
            raise StorageError(
                f"{self._where()} holds tables that are not Athena's; Athena left it "
                "untouched.",
                hint="Point Athena at an empty database or a new data dir.")
        migrations.upgrade(self._write_engine, current)

    def _has_foreign_tables(self) -> bool:
        from sqlalchemy import inspect

        with self._read_engine.connect() as conn:
            return bool(inspect(conn).get_table_names())

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Held while the schema is checked and created or upgraded: one process at a time."""
        if self.dialect == "postgresql":
            # Migrations run in one transaction of their own; this lock is held by another
            # connection until they have committed (or failed).
            with self._write_engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": _PG_MIGRATE_LOCK})
                yield
            return
        if self.path is None:
            yield
            return
        lock_path = self.path.with_name(self.path.name + ".migrate.lock")
        with file_errors(lock_path):
            descriptor = open_lock(lock_path)
        with held(descriptor):
            yield

    def _where(self) -> str:
        return str(self.path) if self.path else self.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn driver errors into Athena's typed errors with advice (see
        :mod:`~athena_core.storage.faults`); after damage, refuse writes from then on."""
        try:
            yield
        except DRIVER_ERRORS as exc:
            error = translate(exc, self._site)
            self._damaged = self._damaged or isinstance(error, CorruptDatabaseError)
            raise error from None


def _is_missing_or_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 (the driver athena-core[postgres] installs)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def raise_if_newer(current: str | None, known: set[str]) -> None:
    if current is not None and current not in known:
        raise SchemaVersionError(
            f"The database is at schema revision {current!r}, which this Athena does not know.",
            hint="It was written by a newer Athena; upgrade athena-core.")
