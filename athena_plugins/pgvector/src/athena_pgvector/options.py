"""The backend's ``[retrieval.vector_options]``: checked, with their defaults resolved.

Where the vectors go, and whose they are:

* Athena's storage is on PostgreSQL and ``url`` is unset (or names that same
  database): the table sits next to Athena's own tables and belongs to that store.
* ``url`` names another database (Athena's storage is SQLite, or another PostgreSQL
  database): the table must never serve two stores, since memory keys of different
  stores collide. The store is then identified (a random id kept in a file next to a
  SQLite database, or the host, port and name of a PostgreSQL one), the default table
  name carries that identity, and a table recorded as another store's is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import Any

import attrs
from athena_core.errors import ConfigError
from athena_core.options import PluginOptions
from athena_core.retrieval.vectors import VectorBackendContext
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["DEFAULT_TABLE", "OPTIONS", "PgVectorOptions", "store_id_path"]

#: Every option the backend accepts.
OPTIONS = ("url", "table", "m", "ef_construction", "ef_search", "maintenance_work_mem")
DEFAULT_TABLE = "athena_vectors"
#: Longest table name: PostgreSQL names hold 63 bytes, and ``_state``/``_hnsw`` are added.
_MAX_TABLE = 48
_TABLE = re.compile(r"[a-z_][a-z0-9_]*\Z")
_MEMORY = re.compile(r"[1-9][0-9]{0,6}(kB|MB|GB)\Z")
#: (lowest, highest) of the HNSW settings, as pgvector accepts them.
_RANGES = {"m": (2, 100), "ef_construction": (4, 1000), "ef_search": (1, 1000)}
_WHERE = "[retrieval.vector_options]"
_CHECK = PluginOptions("pgvector vector backend", _WHERE, OPTIONS)
#: Defaults of the HNSW settings (pgvector's own for ``m`` and ``ef_construction``; a
#: larger ``ef_search`` than pgvector's 40, for recall with filters).
_DEFAULTS = {"m": 16, "ef_construction": 64, "ef_search": 100}


@attrs.frozen
class PgVectorOptions:
    """Resolved options of one :class:`~athena_pgvector.backend.PgVectorBackend`."""

    #: SQLAlchemy URL of the PostgreSQL database holding the vectors (psycopg 3 driver);
    #: left out of ``repr`` since it may hold a password.
    url: str = attrs.field(repr=False)
    #: Name of the vectors table; its state table is ``<table>_state``.
    table: str = DEFAULT_TABLE
    #: HNSW graph degree and build-time candidate list (pgvector's ``m``, ``ef_construction``).
    m: int = _DEFAULTS["m"]
    ef_construction: int = _DEFAULTS["ef_construction"]
    #: Search-time candidate list (``hnsw.ef_search``); raised to ``k`` for larger searches.
    ef_search: int = _DEFAULTS["ef_search"]
    #: PostgreSQL ``maintenance_work_mem`` for building the HNSW index (``"1GB"``); ``""``
    #: keeps the server's. A build is several times faster when the graph fits.
    maintenance_work_mem: str = ""
    #: The Athena store whose vectors the table holds; ``""`` when the table is in that
    #: store's own database (or the caller gave no store).
    store: str = ""

    @classmethod
    def from_context(cls, context: VectorBackendContext) -> PgVectorOptions:
        options: dict[str, Any] = dict(context.options)
        _CHECK.check_names(options)
        numbers = {name: _CHECK.integer(name, options[name], low=low, high=high)
                   if name in options else _DEFAULTS[name]
                   for name, (low, high) in _RANGES.items()}
        m, ef_construction = numbers["m"], numbers["ef_construction"]
        if ef_construction < 2 * m:
            raise _CHECK.error("ef_construction", f"at least twice m ({m})", ef_construction)
        url = _vectors_url(options.get("url"), context.database_url)
        store = _store(url, context.database_url)
        table = options.get("table")
        if table is None:
            table = DEFAULT_TABLE if not store else (
                f"{DEFAULT_TABLE}_{hashlib.sha256(store.encode()).hexdigest()[:12]}")
        memory = options.get("maintenance_work_mem", "")
        if not isinstance(memory, str) or (memory and not _MEMORY.match(memory)):
            raise _CHECK.error("maintenance_work_mem",
                               'a PostgreSQL memory size such as "512MB" or "1GB"', memory)
        return cls(url=url.render_as_string(hide_password=False), table=_table(table), m=m,
                   ef_construction=ef_construction, ef_search=numbers["ef_search"],
                   maintenance_work_mem=memory, store=store)


def _table(value: Any) -> str:
    if (not isinstance(value, str) or not _TABLE.match(value) or len(value) > _MAX_TABLE
            or value.startswith("pg_")):
        raise _CHECK.error("table", f"a lower-case SQL identifier (letters, digits and "
                           f"underscores, not starting with a digit or 'pg_', at most "
                           f"{_MAX_TABLE} characters)", value)
    return value


def _postgres(url: str) -> URL | None:
    """``url`` parsed, with the psycopg 3 driver, if it names a PostgreSQL database."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.drivername.split("+")[0] not in ("postgresql", "postgres"):
        return None
    return parsed.set(drivername="postgresql+psycopg")


def _vectors_url(option: Any, database_url: str | None) -> URL:
    if option is not None:
        parsed = _postgres(option) if isinstance(option, str) else None
        if parsed is None:
            raise _CHECK.error("url", "a PostgreSQL URL (postgresql://user:password@host/"
                                      "database)", option)
        return parsed
    parsed = _postgres(database_url) if database_url else None
    if parsed is None:
        raise ConfigError(
            "The pgvector vector backend keeps vectors in PostgreSQL, but Athena's storage is "
            f"not a PostgreSQL database ({_redacted(database_url)}).",
            hint=f"Set {_WHERE} url = \"postgresql://user:password@host/database\", or put "
                 "Athena's storage on PostgreSQL ([storage] url).")
    return parsed


def _redacted(url: str | None) -> str:
    if not url:
        return "none given"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "an unparsable URL"


def _database(url: URL) -> tuple[str, int, str]:
    """(host or socket directory, port, database name): which database a URL reaches."""
    host = url.host or str(url.query.get("host") or "")
    return host, url.port or 5432, url.database or ""


def _store(url: URL, database_url: str | None) -> str:
    """Which Athena store the vectors belong to, when they are not in its own database."""
    if database_url is None:
        return ""
    source = _postgres(database_url)
    if source is not None:
        if _database(source) == _database(url):
            return ""
        host, port, name = _database(source)
        return f"postgresql:{host}:{port}/{name}"
    try:
        parsed = make_url(database_url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.get_backend_name() != "sqlite" or parsed.database in (
            None, "", ":memory:") or str(parsed.database).startswith("file:"):
        raise ConfigError(
            f"The pgvector vector backend cannot tell which store {_redacted(database_url)} "
            "is, so its vectors could mix with another store's.",
            hint="Keep Athena's storage in a SQLite file or on PostgreSQL.")
    return "sqlite:" + _sqlite_store_id(Path(parsed.database))


def store_id_path(database: Path) -> Path:
    """The file holding the random id of the SQLite store ``database``."""
    return database.with_name(database.name + ".pgvector-id")


def _sqlite_store_id(database: Path) -> str:
    """The random id of a SQLite store, made on first use (safe against a concurrent maker)."""
    path = store_id_path(database.expanduser().resolve())
    try:
        return _read_id(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    draft.write_text(uuid.uuid4().hex + "\n", encoding="ascii")
    try:
        os.link(draft, path)  # fails if another process made it first: then use theirs
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _read_id(path)


def _read_id(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if not re.fullmatch(r"[0-9a-f]{32}", value):
        raise ConfigError(f"{path} does not hold a store id ({value[:40]!r}).",
                          hint="Delete it: the pgvector backend then makes a new one (and a "
                               "new vector table, filled from the database).")
    return value
