"""The ``pgvector`` vector backend: entries in a PostgreSQL table, searched with HNSW.

Every process pointed at the table sees every change at once (``shared = True``):
Athena then saves the checkpoint after each change to existing entries and after
each load of new ones. The rules that keep entries and checkpoint together:

* each change (add, remove, clear) is one transaction that also updates the entry
  count in the state row, whose row lock serialises changes to one table;
* ``clear`` empties the table and forgets the checkpoint in the same transaction, so
  an interrupted rebuild never leaves a checkpoint naming entries that are gone;
* ``save_checkpoint`` writes the checkpoint after the entries it describes;
* ``load_checkpoint`` gives the checkpoint back only when the table still holds the
  number of entries the state row recorded; otherwise it warns and clears the table.

Searches apply every filter in SQL (``WHERE``), ordered by cosine distance with a
``LIMIT``; a filter on memories' metadata or episode fields comes as a predicate on
Athena's tables (:meth:`PgVectorBackend.search_matching`), applied in the same ``WHERE``
when the table is in Athena's database.
PostgreSQL's planner picks the HNSW index, scanned iteratively (pgvector >=
0.8) until enough rows pass the filter, or, for a filter matching few entries, the
index on scope and layer with an exact sort; when a search still finds fewer than
``k`` entries, an exact search over every match is made.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from athena_core.errors import ConfigError, InvalidArgumentError, StorageError
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import (
    MemoryPredicate,
    VectorBackendContext,
    VectorEntry,
    check_vectors,
    entry_vectors,
)
from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    any_,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement

from athena_pgvector._schema import (
    FORMAT,
    Tables,
    ensure_extension,
    parse_version,
    prepare,
    quoted,
)
from athena_pgvector.options import PgVectorOptions

if TYPE_CHECKING:
    import numpy as np

__all__ = ["PgVectorBackend"]

log = logging.getLogger("athena.pgvector")

#: A key filter listing fewer keys than this is searched exactly.
EXACT_BELOW = 2_000
#: pgvector's HNSW index takes ``vector`` columns of at most this many dimensions.
MAX_DIMENSION = 2_000
#: First pgvector version with iterative index scans.
_ITERATIVE = (0, 8, 0)
#: First pgvector version with HNSW.
_HNSW = (0, 5, 0)
_COPY_TYPES = ["int8", "vector", "text", "text", "timestamptz", "timestamptz"]


def _utc(value: datetime) -> datetime:
    """``value`` as an aware UTC time (a naive one is local time, as ``timestamp()`` reads it)."""
    return value.astimezone(UTC)


class PgVectorBackend:
    """Vectors in a PostgreSQL table with pgvector: shared, persistent, approximate (HNSW)."""

    #: Other processes see the entries at once.
    shared = True

    def __init__(self, dimension: int, options: PgVectorOptions) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) \
                or not 1 <= dimension <= MAX_DIMENSION:
            raise ConfigError(
                f"The pgvector backend needs an embedding dimension from 1 to {MAX_DIMENSION} "
                f"(the most pgvector's HNSW index takes), not {dimension!r}.")
        self._dimension = dimension
        self.options = options
        self._tables = Tables.build(options.table, dimension, m=options.m,
                                    ef_construction=options.ef_construction)
        self._where = make_url(options.url).render_as_string(hide_password=True)
        self._engine = create_engine(options.url, pool_pre_ping=True)
        event.listen(self._engine, "connect", self._on_connect)
        try:
            with self._translated():
                version = ensure_extension(self._engine)
                if version < _HNSW:
                    raise StorageError(
                        f"{self._where} has pgvector {'.'.join(map(str, version))}; the "
                        f"pgvector backend needs 0.5.0 or newer (HNSW indexes).",
                        hint="Upgrade the extension: ALTER EXTENSION vector UPDATE;")
                # Connections made before the extension existed lack its adapters.
                self._engine.dispose()
                prepare(self._engine, self._tables, options, dimension, create=False)
        except BaseException:
            self._engine.dispose()
            raise
        #: Single-statement reads need no transaction (no BEGIN and ROLLBACK round trips).
        self._reads = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        self._created = False
        self._creating = threading.Lock()

    def _on_connect(self, raw: Any, _record: Any) -> None:
        """Ready a new connection: pgvector's adapters (vectors travel in binary) and the
        search settings, once per connection rather than once per search."""
        version = raw.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        if version is not None:
            from pgvector.psycopg import register_vector

            register_vector(raw)
            raw.execute("SELECT set_config('hnsw.ef_search', %s, false)",
                        [str(self.options.ef_search)])
            if parse_version(version[0]) >= _ITERATIVE:
                # Index scans go on until enough rows pass the filter.
                raw.execute("SET hnsw.iterative_scan = relaxed_order")
        raw.commit()

    def _ready(self) -> None:
        """Create the tables on first use (see :func:`~athena_pgvector._schema.prepare`)."""
        if self._created:
            return
        with self._creating:
            if not self._created:
                with self._translated():
                    prepare(self._engine, self._tables, self.options, self._dimension,
                            create=True)
                self._created = True

    @classmethod
    def from_context(cls, context: VectorBackendContext) -> PgVectorBackend:
        return cls(context.dimension, PgVectorOptions.from_context(context))

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def table(self) -> str:
        """Name of the vectors table (its state table is ``<table>_state``)."""
        return self.options.table

    def __repr__(self) -> str:
        return f"<PgVectorBackend {self.table!r} at {self._where}>"

    # --- changing entries ---------------------------------------------------------

    def add(self, entries: Sequence[VectorEntry]) -> None:
        if not entries:
            return
        vectors = entry_vectors(entries, self._dimension)
        latest: dict[int, int] = {}  # with a repeated key the last entry wins
        for i, entry in enumerate(entries):
            if not isinstance(entry.scope, str) or not isinstance(entry.layer, str):
                raise InvalidArgumentError(
                    f"vector entry {entry.key!r}: scope and layer must be strings.")
            latest[int(entry.key)] = i
        rows = [(key, vectors[i], entries[i].scope, entries[i].layer,
                 _utc(entries[i].valid_from),
                 None if entries[i].valid_to is None else _utc(entries[i].valid_to))
                for key, i in sorted(latest.items())]  # key order: the same lock order everywhere
        vectors_table = self._tables.vectors
        with self._changing() as conn:
            replaced = conn.execute(delete(vectors_table).where(
                vectors_table.c.key == any_(_bigints(list(latest))))).rowcount
            self._copy(conn, rows)
            self._counted(conn, len(rows) - replaced)

    def remove(self, keys: Iterable[int]) -> None:
        wanted = sorted({int(key) for key in keys})
        if not wanted:
            return
        vectors_table = self._tables.vectors
        with self._changing() as conn:
            removed = conn.execute(delete(vectors_table).where(
                vectors_table.c.key == any_(_bigints(wanted)))).rowcount
            self._counted(conn, -removed)

    def clear(self) -> None:
        """Empty the table and forget the checkpoint, in one transaction.

        The HNSW index goes too: refilling a table is several times faster without it,
        and :meth:`save_checkpoint` builds it again in one pass.
        """
        with self._changing() as conn:
            conn.execute(text(f"TRUNCATE {quoted(self.table)}"))
            conn.execute(text(f"DROP INDEX IF EXISTS {quoted(self._tables.hnsw.name)}"))
            conn.execute(update(self._tables.state).values(entries=0, checkpoint=None))

    @contextlib.contextmanager
    def _changing(self) -> Iterator[Connection]:
        """A transaction holding the state row's lock: changes to one table run one at a time."""
        self._ready()
        state = self._tables.state
        locked = select(state.c.entries).where(state.c.id == 1).with_for_update()
        with self._translated(), self._engine.begin() as conn:
            if conn.execute(locked).one_or_none() is None:
                # The state row was deleted behind our back: the count is unknown from now
                # on, so that the next load_checkpoint reports the table as damaged.
                conn.execute(pg_insert(state).values(
                    id=1, format=FORMAT, store=self.options.store, entries=None,
                    checkpoint=None).on_conflict_do_nothing())
                conn.execute(locked)
            yield conn

    def _counted(self, conn: Connection, delta: int) -> None:
        if delta:
            state = self._tables.state
            conn.execute(update(state).values(entries=state.c.entries + delta))

    def _copy(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` with one binary COPY (the fast path for 100k-entry loads)."""
        raw = conn.connection.driver_connection
        columns = ", ".join(c.name for c in self._tables.vectors.columns)
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {quoted(self.table)} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)

    # --- checkpoints ----------------------------------------------------------------

    def save_checkpoint(self, checkpoint: str) -> None:
        """Record ``checkpoint`` for the entries now in the table, in one transaction.

        After a refill (:meth:`clear` dropped the index) the HNSW index is built in one
        pass and the table analysed, so that the planner weighs filters against the
        index with the table's real statistics, not those of the empty table.
        """
        with self._changing() as conn:
            if not conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"),
                                {"n": quoted(self._tables.hnsw.name)}).scalar_one():
                if self.options.maintenance_work_mem:  # for this build only
                    conn.execute(text("SELECT set_config('maintenance_work_mem', :m, true)"),
                                 {"m": self.options.maintenance_work_mem})
                self._tables.hnsw.create(conn)
                conn.execute(text(f"ANALYZE {quoted(self.table)}"))
            conn.execute(update(self._tables.state).values(checkpoint=checkpoint))

    def load_checkpoint(self) -> str | None:
        """The saved checkpoint, if the table still holds what it described.

        ``None`` without a word when nothing was saved (entries added since the table
        was made or cleared are then removed); ``None`` with a warning on the
        ``athena.pgvector`` logger, and an emptied table, when the table holds another
        number of entries than was recorded, or its state row was lost.
        """
        self._ready()
        state, vectors_table = self._tables.state, self._tables.vectors
        with self._translated(), self._engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():  # the state row and the count from one snapshot
                row = conn.execute(select(state.c.entries, state.c.checkpoint)
                                   .where(state.c.id == 1)).one_or_none()
                count = conn.execute(select(func.count()).select_from(vectors_table)
                                     ).scalar_one()
        recorded = None if row is None else row.entries
        if recorded == count:
            if row.checkpoint is not None:
                return str(row.checkpoint)
            if count:  # entries added but never saved (before a first save, or a rebuild
                self.clear()  # cut short): nothing was saved, and the backend is now empty
            return None
        if recorded is None:
            if count == 0 and (row is None or row.checkpoint is None):
                return None
            problem = f"its state row was lost, and it holds {count} entries"
        else:
            problem = (f"it holds {count} entries where {recorded} were recorded (rows were "
                       "changed by something else)")
        log.warning("The pgvector table %r at %s is not in a state Athena saved: %s. It has "
                    "been emptied; Athena fills it again from the database.",
                    self.table, self._where, problem)
        self.clear()
        return None

    # --- reading ----------------------------------------------------------------------

    def search(self, vector: np.ndarray, *, k: int, where: RecallFilter
               ) -> list[tuple[int, float]]:
        return self._search(vector, k=k, where=where, predicate=None)

    def search_matching(self, vector: np.ndarray, *, k: int, where: RecallFilter,
                        predicate: MemoryPredicate) -> list[tuple[int, float]] | None:
        """:meth:`search` with ``predicate`` (a condition on Athena's memory tables) in the
        ``WHERE`` clause; ``None`` when the table is not in Athena's database."""
        if self.options.store:
            return None
        return self._search(vector, k=k, where=where, predicate=predicate)

    def _search(self, vector: np.ndarray, *, k: int, where: RecallFilter,
                predicate: MemoryPredicate | None) -> list[tuple[int, float]]:
        query = check_vectors(vector, self._dimension, source="query embedding")[0]
        if k <= 0:
            return []
        conditions = self._conditions(where)
        if conditions is None:
            return []
        if predicate is not None:
            conditions.append(predicate(self._tables.vectors.c.key))
        self._ready()
        table = self._tables.vectors
        # Bound as the array itself: pgvector's adapter sends it in binary.
        distance = table.c.embedding.op("<=>", return_type=Float)(bindparam("query", query))
        # A zero query has no direction (pgvector gives NaN): only an exact scan returns
        # entries then, all with similarity 0, as the exact backend does. A short key
        # list is best searched exactly too. Otherwise the planner chooses, from the
        # table's statistics, between the HNSW index (scanned iteratively until enough
        # rows pass the filter) and the scope index with an exact sort.
        exact = not query.any() or (where.keys is not None and len(where.keys) < EXACT_BELOW)
        with self._translated(), self._reads.connect() as conn:
            rows: Sequence[Any] = ()
            if not exact:
                nearest = (select(table.c.key, distance).where(*conditions).order_by(distance)
                           .limit(k))
                if k <= self.options.ef_search:
                    rows = conn.execute(nearest).all()
                else:  # a longer candidate list, for this search only
                    rows = self._with_ef_search(conn, min(k, 1000), nearest)
            if len(rows) < k:  # a filter matching few entries, or a scan that found too few
                found = select(table.c.key, distance.label("distance")).where(*conditions) \
                    .cte("matching").prefix_with("MATERIALIZED")  # no HNSW: every match
                rows = conn.execute(select(found.c.key, found.c.distance)
                                    .order_by(found.c.distance).limit(k)).all()
        results = [(int(key), 0.0 if gap is None or math.isnan(gap) else 1.0 - float(gap))
                   for key, gap in rows]
        # Relaxed-order index scans may return near-ties out of order.
        results.sort(key=lambda pair: pair[1], reverse=True)
        return results

    def _with_ef_search(self, conn: Connection, ef_search: int, statement: Any
                        ) -> Sequence[Any]:
        setting = text("SELECT set_config('hnsw.ef_search', :ef, false)")
        conn.execute(setting, {"ef": str(ef_search)})
        try:
            return conn.execute(statement).all()
        finally:
            conn.execute(setting, {"ef": str(self.options.ef_search)})

    def _conditions(self, where: RecallFilter) -> list[ColumnElement[bool]] | None:
        """``where`` as SQL conditions; ``None`` when nothing can match."""
        c = self._tables.vectors.c
        conditions: list[ColumnElement[bool]] = [c.scope == where.scope]
        if where.layers is not None:
            if not where.layers:
                return None
            conditions.append(c.layer.in_(sorted(where.layers)))
        if where.as_of is None:
            conditions.append(c.valid_to.is_(None))
        else:
            at = _utc(where.as_of)
            conditions += [c.valid_from <= at, or_(c.valid_to.is_(None), c.valid_to > at)]
        if where.since is not None:
            conditions.append(c.valid_from >= _utc(where.since))
        if where.until is not None:
            conditions.append(c.valid_from < _utc(where.until))
        if where.keys is not None:
            if not where.keys:
                return None
            conditions.append(c.key == any_(_bigints(sorted(where.keys))))
        return conditions

    def __len__(self) -> int:
        self._ready()
        with self._translated(), self._reads.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self._tables.vectors)
                                    ).scalar_one())

    def __contains__(self, key: object) -> bool:
        if isinstance(key, bool) or not isinstance(key, int):
            try:
                key = int(key)  # type: ignore[call-overload]  # numpy integers
            except (TypeError, ValueError):
                return False
        self._ready()
        table = self._tables.vectors
        with self._translated(), self._reads.connect() as conn:
            return conn.execute(select(literal(True)).where(table.c.key == key)
                                ).first() is not None

    def close(self) -> None:
        self._engine.dispose()

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Database errors become :class:`StorageError` naming the table and server."""
        try:
            yield
        except DBAPIError as exc:
            raise StorageError(
                f"The pgvector table {self.table!r} at {self._where} could not be used: "
                f"{exc.orig}".rstrip(),
                hint="Check that the PostgreSQL server is reachable and the table intact; "
                     "Athena rebuilds the table from its database when reopened.") from exc


def _bigints(values: list[int]) -> Any:
    """``values`` as one ``bigint[]`` parameter (one bind, however many keys)."""
    return cast(literal(values, ARRAY(BigInteger)), ARRAY(BigInteger))
