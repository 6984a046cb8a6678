"""Storage faults, as the caller sees them: typed errors that say what to do next.

Every database error (SQLAlchemy's, or the driver's own where it bypasses SQLAlchemy)
and every file-system error met while opening a data dir becomes one of Athena's
:class:`~athena_core.errors.StorageError` subclasses, and a database URL Athena cannot
use becomes a :class:`~athena_core.errors.ConfigError`.

The errors never quote memory content: SQLAlchemy's message carries the statement's
parameters (a memory's text, its metadata), so it is never passed on, and the typed
error is raised ``from None`` so that no traceback renders it either. What is kept is
the driver's error *name* (``SQLITE_FULL``, SQLSTATE ``53100``) and, for the faults
recognised here, SQLite's own fixed wording.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import attrs
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, StatementError

from athena_core.errors import (
    ConfigError,
    CorruptDatabaseError,
    StorageError,
    StorageFullError,
    StorageLockedError,
    StoragePermissionError,
)

__all__ = [
    "CORRUPT_HINT",
    "DRIVER_ERRORS",
    "FaultSite",
    "database_url",
    "file_errors",
    "is_corrupt",
    "translate",
]

#: What a caller can do about a damaged database (shared by every corruption report).
CORRUPT_HINT = (
    "Athena left the file as it is and writes nothing to it. Stop the processes using "
    "it, move it aside (with its -wal and -shm files), then restore it from a backup, or "
    "`athena import` an export into a fresh data dir; `athena doctor` checks a whole "
    "database.")
#: Errors that escape the ``with`` blocks of :class:`~athena_core.storage.Storage`:
#: SQLAlchemy's (statement and DBAPI errors) and the SQLite driver's own (raised by
#: the ``BEGIN`` Athena issues on the driver connection).
DRIVER_ERRORS = (StatementError, sqlite3.Error)
_SUPPORTED = ("sqlite", "postgresql")
_URL_HINT = ('Set [storage] url to a "postgresql://user:password@host/dbname" URL, or leave '
             "it empty for the SQLite file athena.db in the data dir.")
_PERMISSION_HINT = (
    "Athena needs permission to read and write the data dir and athena.db, athena.db-wal "
    "and athena.db-shm in it: run it as the user who owns them, or give that user "
    "ownership (chown) and read-write mode (chmod u+rw, and u+rwx on the directory).")
#: SQLite error names (``sqlite_errorname``, prefix match) and PostgreSQL SQLSTATEs.
_LOCKED = ("SQLITE_BUSY", "SQLITE_LOCKED", "55P03")
_FULL = ("SQLITE_FULL", "53100")
_PERMISSION = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH", "42501")
_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB", "XX001", "XX002")
_IO = ("SQLITE_IOERR",)
#: Messages that mean a damaged file whatever the code (an FTS5 index that cannot load).
_CORRUPT_MARKERS = ("file is not a database", "malformed", "file is encrypted",
                    "vtable constructor failed")


@attrs.frozen
class FaultSite:
    """Where a fault happened: the database (for messages) and the files behind it."""

    #: The database as shown to users: the SQLite path, or the URL without password.
    where: str
    #: The SQLite database file, or ``None`` for a server database.
    path: Path | None
    #: ``[storage] busy_timeout_ms``, for the lock message.
    busy_timeout_ms: int


def translate(exc: BaseException, site: FaultSite) -> StorageError:
    """The typed error for a database error ``exc``; the caller raises it ``from None``."""
    orig = getattr(exc, "orig", None) or exc
    code = _code(orig)
    if is_corrupt(exc):
        return CorruptDatabaseError(
            f"{site.where} is damaged: it is not a readable Athena database ({_said(orig)}).",
            hint=CORRUPT_HINT)
    if code.startswith(_LOCKED):
        return StorageLockedError(
            f"{site.where} stayed locked by another connection for longer than "
            f"{site.busy_timeout_ms} ms; this call changed nothing.",
            hint="Retry the call. If it keeps happening, raise [storage] busy_timeout_ms "
                 "or find the process holding the lock (a long write, an open sqlite3 "
                 "shell).")
    if code.startswith(_FULL):
        return StorageFullError(
            f"{site.where}: the disk is full ({_said(orig)}); the write was not stored.",
            hint="Free disk space, or move the data dir to a larger disk, then retry; what "
                 "was stored before is intact.")
    if code.startswith(_PERMISSION):
        return StoragePermissionError(
            f"{site.where} cannot be written by this process ({_said(orig)})"
            f"{_ownership(site.path)}.", hint=_PERMISSION_HINT)
    if code.startswith(_IO):
        return StorageError(
            f"{site.where}: reading or writing the file failed ({_said(orig)}).",
            hint="Check the free space, the file-size limit (ulimit -f) and the disk's "
                 "health (dmesg), then retry.")
    return StorageError(
        f"{site.where}: the database refused the operation ({code or type(orig).__name__}).",
        hint="If it happens again, run `athena doctor` and report this message.")


def is_corrupt(exc: BaseException) -> bool:
    """Whether database error ``exc`` says the database file is damaged."""
    orig = getattr(exc, "orig", None) or exc
    message = str(orig).lower()
    return _code(orig).startswith(_CORRUPT) or any(m in message for m in _CORRUPT_MARKERS)


@contextlib.contextmanager
def file_errors(path: Path) -> Iterator[None]:
    """File-system errors while preparing ``path`` (a data dir, a lock file) become
    typed errors naming it."""
    try:
        yield
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StoragePermissionError(
                f"{path} cannot be created or written by this process ({reason})"
                f"{_ownership(path)}.", hint=_PERMISSION_HINT) from None
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFullError(f"{path} cannot be written: {reason}.",
                                   hint="Free disk space, then retry.") from None
        raise StorageError(f"{path} cannot be prepared: {reason}.",
                           hint="Check that the path is a directory you can write.") from None


def database_url(url: str) -> URL:
    """``url`` parsed, if Athena can store in that kind of database; else ``ConfigError``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"[storage] url {_without_password(url)!r} is not a database URL.",
                          hint=_URL_HINT) from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise ConfigError(
            f"[storage] url names a {backend} database "
            f"({parsed.render_as_string(hide_password=True)}); Athena stores its memories "
            "in SQLite or PostgreSQL only.", hint=_URL_HINT)
    return parsed


def _code(orig: BaseException) -> str:
    """SQLite's error name (``SQLITE_IOERR_WRITE``) or PostgreSQL's SQLSTATE, or ``""``."""
    return str(getattr(orig, "sqlite_errorname", None) or getattr(orig, "sqlstate", None)
               or "")


def _said(orig: BaseException) -> str:
    """The driver's wording for the recognised faults: SQLite's fixed message and name,
    PostgreSQL's SQLSTATE (its messages may quote values)."""
    code = _code(orig)
    if isinstance(orig, sqlite3.Error):
        message = str(orig).split("\n", 1)[0][:120]
        return f"{message}, {code}" if code else message
    return f"SQLSTATE {code}" if code else type(orig).__name__


def _ownership(path: Path | None) -> str:
    """``", owned by uid N while this process runs as uid M"`` when the first of ``path``,
    its -wal and -shm files and its directory that exists belongs to someone else."""
    if path is None:
        return ""
    me = os.geteuid()
    for candidate in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm"), path.parent):
        try:
            owner = candidate.stat().st_uid
        except OSError:
            continue
        if owner != me:
            return f"; {candidate} is owned by uid {owner}, this process runs as uid {me}"
    return ""


def _without_password(url: str) -> str:
    return re.sub(r":[^:@/]*@", ":***@", url)
