"""The vectors table, its state table, and making sure both exist as this backend needs.

``<table>`` holds one row per entry: the key, the vector (pgvector ``vector(d)``, with
an HNSW cosine index) and what filters need (scope, layer, validity window).
``<table>_state`` holds one row: the format, the store the vectors belong to, the
number of entries (kept by every transaction that changes them, so that rows changed
behind the backend's back are noticed) and the checkpoint.
"""

from __future__ import annotations

import logging

import attrs
from athena_core.errors import ConfigError, StorageError
from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from athena_pgvector.options import PgVectorOptions

__all__ = ["FORMAT", "Tables", "ensure_extension", "parse_version", "prepare", "quoted"]

log = logging.getLogger("athena.pgvector")

#: Version of the layout below; a table written by a newer layout is refused.
FORMAT = 1
#: First key of this backend's advisory locks ("pgv"); the second is a hash of the table.
_LOCK = 0x706776
#: pgvector's own defaults, for an index created without them spelled out.
_PGVECTOR_DEFAULTS = {"m": 16, "ef_construction": 64}
_COLUMNS = {"key": "bigint", "scope": "text", "layer": "text",
            "valid_from": "timestamp with time zone", "valid_to": "timestamp with time zone"}
_INSUFFICIENT_PRIVILEGE = "42501"


def quoted(name: str) -> str:
    """``name`` as a quoted SQL identifier (names are checked identifiers already)."""
    return '"' + name.replace('"', '""') + '"'


@attrs.frozen
class Tables:
    """The SQLAlchemy view of one vectors table and its state table."""

    vectors: Table
    state: Table
    hnsw: Index

    @classmethod
    def build(cls, name: str, dimension: int, *, m: int, ef_construction: int) -> Tables:
        metadata = MetaData(naming_convention={
            "pk": "%(table_name)s_pkey", "ck": "%(table_name)s_%(constraint_name)s"})
        vectors = Table(
            name, metadata,
            Column("key", BigInteger, primary_key=True, autoincrement=False),
            Column("embedding", VECTOR(dimension), nullable=False),
            Column("scope", Text, nullable=False),
            Column("layer", Text, nullable=False),
            Column("valid_from", DateTime(timezone=True), nullable=False),
            Column("valid_to", DateTime(timezone=True), nullable=True),
        )
        # Filters start from the scope; the included columns let a bounded count of the
        # matching entries run from the index alone.
        Index(f"{name}_scope", vectors.c.scope, vectors.c.layer,
              postgresql_include=["valid_from", "valid_to"])
        hnsw = Index(f"{name}_hnsw", vectors.c.embedding, postgresql_using="hnsw",
                     postgresql_with={"m": m, "ef_construction": ef_construction},
                     postgresql_ops={"embedding": "vector_cosine_ops"})
        state = Table(
            f"{name}_state", metadata,
            Column("id", SmallInteger, primary_key=True, autoincrement=False),
            Column("format", Integer, nullable=False),
            Column("store", Text, nullable=False),
            # NULL: unknown (the state row was lost); the table then counts as damaged.
            Column("entries", BigInteger, nullable=True),
            Column("checkpoint", Text, nullable=True),
            CheckConstraint("id = 1", name="one"),
        )
        return cls(vectors, state, hnsw)


def ensure_extension(engine: Engine) -> tuple[int, ...]:
    """The version of the ``vector`` extension in the database, creating it if missing."""
    with engine.begin() as conn:
        version = _extension_version(conn)
        if version is not None:
            return version
        if not conn.execute(text(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).scalar():
            raise StorageError(
                f"The PostgreSQL server of database {_database(conn)!r} does not have the "
                "pgvector extension installed.",
                hint="Install pgvector on the server (https://github.com/pgvector/pgvector), "
                     "or point [retrieval.vector_options] url at a server that has it.")
        conn.execute(text("SELECT pg_advisory_xact_lock(:a, 0)"), {"a": _LOCK})
        try:
            with conn.begin_nested():
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
                raise
            raise StorageError(
                f"The pgvector extension is not enabled in database {_database(conn)!r}, and "
                f"this user may not enable it ({exc.orig}).",
                hint=f"Ask an administrator to run CREATE EXTENSION vector; in database "
                     f"{_database(conn)!r} once.") from exc
        version = _extension_version(conn)
        assert version is not None
        return version


def _extension_version(conn: Connection) -> tuple[int, ...] | None:
    value = conn.execute(text(
        "SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
    return None if value is None else parse_version(value)


def parse_version(value: str) -> tuple[int, ...]:
    """``"0.8.5"`` as ``(0, 8, 5)``."""
    return tuple(int(part) for part in value.split("-")[0].split(".") if part.isdigit())


def _database(conn: Connection) -> str:
    return str(conn.execute(text("SELECT current_database()")).scalar())


def prepare(engine: Engine, tables: Tables, options: PgVectorOptions, dimension: int, *,
            create: bool) -> None:
    """Check that existing tables are ours and this store's; with ``create``, make them.

    With ``create``, missing tables are created, a vectors table made for another
    dimension is dropped and made again (with a warning), never mixed, and an index
    built with other HNSW settings is dropped, to be made again with these at the next
    checkpoint. Without it nothing is written: Athena opens the backend before its own
    storage, and a table made in a new database then would make that database look
    like someone else's to Athena.
    """
    name = tables.vectors.name
    with engine.begin() as conn:
        # One process at a time checks and creates a given table.
        conn.execute(text("SELECT pg_advisory_xact_lock(:a, hashtext(:name))"),
                     {"a": _LOCK, "name": name})
        columns = _columns(conn, name)
        state = conn.execute(select(tables.state.c.format, tables.state.c.store)
                             .where(tables.state.c.id == 1)).one_or_none() \
            if _exists(conn, tables.state.name) else None
        if columns:
            _check_ours(name, columns)
        if state is not None:
            _check_state(name, state.format, state.store, options.store)
        if not create:
            return
        if columns and columns["embedding"] != f"vector({dimension})":
            log.warning("The pgvector table %r holds vectors of type %s, not vector(%d) as the "
                        "configured embedder makes; it is dropped and made again, then filled "
                        "from the database.", name, columns["embedding"], dimension)
            conn.execute(text(f"DROP TABLE {quoted(name)}"))
            columns = {}
            if state is not None:
                conn.execute(tables.state.update().values(entries=0, checkpoint=None))
        if not columns:
            tables.vectors.create(conn)  # with its indexes
        elif _exists(conn, tables.hnsw.name) and _index_settings(conn, tables.hnsw.name) != {
                "m": options.m, "ef_construction": options.ef_construction}:
            log.info("Dropping the HNSW index of %r, built with other settings; it is built "
                     "again at the next checkpoint.", name)
            conn.execute(text(f"DROP INDEX {quoted(tables.hnsw.name)}"))
        if state is None:
            tables.state.create(conn, checkfirst=True)
            # Rows found without their state are of unknown standing: the first
            # load_checkpoint reports and clears them.
            count = conn.execute(select(func.count()).select_from(tables.vectors)).scalar_one()
            conn.execute(pg_insert(tables.state).values(
                id=1, format=FORMAT, store=options.store, entries=None if count else 0,
                checkpoint=None).on_conflict_do_nothing())


def _exists(conn: Connection, name: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"),
                        {"name": quoted(name)}).scalar_one()


def _columns(conn: Connection, name: str) -> dict[str, str]:
    """Column name -> SQL type of table ``name`` (empty if there is no such table)."""
    rows = conn.execute(text(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(:name) AND attnum > 0 AND NOT attisdropped"),
        {"name": quoted(name)})
    return {column: kind for column, kind in rows}


def _check_ours(name: str, columns: dict[str, str]) -> None:
    theirs = {column: kind for column, kind in columns.items() if column != "embedding"}
    if theirs != _COLUMNS or not columns.get("embedding", "").startswith("vector("):
        raise StorageError(
            f"The table {name!r} exists and is not an Athena vector table "
            f"(columns {sorted(columns)}); Athena left it untouched.",
            hint="Choose another name with [retrieval.vector_options] table.")


def _check_state(name: str, format: int, store: str, ours: str) -> None:
    if format > FORMAT:
        raise StorageError(
            f"The pgvector table {name!r} was written by a newer athena-pgvector "
            f"(format {format}).", hint="Upgrade athena-pgvector, or choose another table.")
    if store != ours:
        def describe(store: str) -> str:
            return f"store {store!r}" if store else "the store in its own database"

        raise ConfigError(
            f"The pgvector table {name!r} holds the vectors of {describe(store)}, not of "
            f"this one ({describe(ours)}); memories of two stores must not share a table.",
            hint="Set another [retrieval.vector_options] table for this store, or drop that "
                 "table if its store is gone.")


def _index_settings(conn: Connection, name: str) -> dict[str, int]:
    options = conn.execute(text("SELECT reloptions FROM pg_class WHERE oid = to_regclass(:n)"),
                           {"n": quoted(name)}).scalar() or []
    settings = dict(_PGVECTOR_DEFAULTS)
    for option in options:
        key, _, value = option.partition("=")
        if key in settings and value.isdigit():
            settings[key] = int(value)
    return settings
