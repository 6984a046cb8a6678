"""What the pgvector backend adds to the contract: options, sharing, consistency, filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from athena_core.errors import ConfigError, InvalidArgumentError, OptionError, StorageError
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import ExactVectorIndex, VectorBackendContext, VectorEntry
from sqlalchemy import create_engine, text

from athena_pgvector.backend import EXACT_BELOW, PgVectorBackend
from athena_pgvector.options import PgVectorOptions, store_id_path

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LOG = "athena.pgvector"


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def context(dimension: int = 8, database_url: str | None = None, **options: Any
            ) -> VectorBackendContext:
    return VectorBackendContext(dimension=dimension, options=options,
                                database_url=database_url)


@pytest.fixture
def table() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def opened() -> Any:
    backends: list[PgVectorBackend] = []

    def open_(url: str, table: str, dimension: int = 8, **options: Any) -> PgVectorBackend:
        backend = PgVectorBackend.from_context(context(dimension, url=url, table=table,
                                                       **options))
        backends.append(backend)
        return backend

    yield open_
    for backend in backends:
        backend.close()


def sql(url: str, statement: str) -> Any:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return result.all() if result.returns_rows else result.rowcount
    finally:
        engine.dispose()


# --- options (no server needed) -------------------------------------------------------


def test_unknown_option_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"'colour'.*valid: url, table, m, ef_construction, "
                                          r"ef_search, maintenance_work_mem"):
        PgVectorOptions.from_context(context(url="postgresql://db/x", colour="red"))


def test_sqlite_storage_without_url_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[retrieval.vector_options\] url") as caught:
        PgVectorOptions.from_context(context(database_url=f"sqlite:///{tmp_path}/athena.db"))
    assert "[storage] url" in str(caught.value)


@pytest.mark.parametrize(("options", "message"), [
    ({"url": "sqlite:///x.db"}, "must be a PostgreSQL URL"),
    ({"url": "not a url"}, "must be a PostgreSQL URL"),
    ({"url": "postgresql://db/x", "table": "Vectors"}, "lower-case SQL identifier"),
    ({"url": "postgresql://db/x", "table": "x; DROP TABLE memories"}, "identifier"),
    ({"url": "postgresql://db/x", "table": "pg_vectors"}, "identifier"),
    ({"url": "postgresql://db/x", "table": "t" * 49}, "at most 48"),
    ({"url": "postgresql://db/x", "m": 1}, "m must be an integer from 2 to 100"),
    ({"url": "postgresql://db/x", "m": True}, "m must be an integer"),
    ({"url": "postgresql://db/x", "ef_search": "40"}, "ef_search must be an integer"),
    ({"url": "postgresql://db/x", "m": 48},
     r"\[retrieval.vector_options\] ef_construction must be at least twice m \(48\), not 64"),
    ({"url": "postgresql://db/x", "maintenance_work_mem": "lots"}, "a PostgreSQL memory size"),
    ({"url": "postgresql://db/x", "maintenance_work_mem": 1024}, "a PostgreSQL memory size"),
])
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        PgVectorOptions.from_context(context(**options))


def test_password_stays_out_of_repr() -> None:
    options = PgVectorOptions.from_context(context(url="postgresql://u:s3cret@db/x"))
    assert "s3cret" not in repr(options)
    assert options.url.startswith("postgresql+psycopg://u:s3cret@db/x")


def test_defaults_on_postgresql_storage() -> None:
    options = PgVectorOptions.from_context(context(database_url="postgresql://u@db/athena"))
    assert (options.table, options.store, options.m, options.ef_construction,
            options.ef_search) == ("athena_vectors", "", 16, 64, 100)
    assert options.url.startswith("postgresql+psycopg://u@db/athena")


def test_vectors_away_from_sqlite_storage_get_a_table_of_that_store(tmp_path: Path) -> None:
    def options_for(home: Path) -> PgVectorOptions:
        return PgVectorOptions.from_context(context(
            database_url=f"sqlite:///{home}/athena.db", url="postgresql://db/vectors"))

    first, again = options_for(tmp_path / "one"), options_for(tmp_path / "one")
    other = options_for(tmp_path / "two")
    assert first.store == again.store and first.store.startswith("sqlite:")
    assert first.table == again.table != other.table
    assert first.table.startswith("athena_vectors_")
    assert store_id_path(tmp_path / "one" / "athena.db").exists()


def test_vectors_in_another_postgresql_database_name_their_store() -> None:
    options = PgVectorOptions.from_context(context(
        database_url="postgresql://u@db:6543/athena", url="postgresql://u@db/vectors"))
    assert options.store == "postgresql:db:6543/athena"
    assert options.table.startswith("athena_vectors_")


def test_in_memory_sqlite_store_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot tell which store"):
        PgVectorOptions.from_context(context(database_url="sqlite://",
                                             url="postgresql://db/vectors"))


def test_dimension_beyond_hnsw_is_refused() -> None:
    with pytest.raises(ConfigError, match="dimension from 1 to 2000"):
        PgVectorBackend(2001, PgVectorOptions(url="postgresql+psycopg://db/x"))


def test_unreachable_server_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="could not be used"):
        PgVectorBackend.from_context(context(
            url=f"postgresql://nobody@/x?host={tmp_path}&connect_timeout=2"))


# --- sharing and consistency -----------------------------------------------------------


def test_two_backends_on_one_table_see_each_other_at_once(shared_database: str, table: str,
                                                          opened: Any) -> None:
    one, two = opened(shared_database, table), opened(shared_database, table)
    basis = np.eye(8, dtype=np.float32)
    one.add([VectorEntry(1, basis[0], "s", "semantic", T0)])
    assert 1 in two and len(two) == 1
    assert [k for k, _ in two.search(basis[0], k=3, where=RecallFilter("s"))] == [1]
    two.remove([1])
    assert 1 not in one and one.search(basis[0], k=3, where=RecallFilter("s")) == []
    two.save_checkpoint("by two")
    assert one.load_checkpoint() == "by two"


def test_clear_forgets_the_checkpoint_in_the_same_transaction(
        shared_database: str, table: str, opened: Any, caplog: pytest.LogCaptureFixture) -> None:
    backend = opened(shared_database, table)
    backend.add([VectorEntry(1, unit(np.ones(8)), "s", "semantic", T0)])
    backend.save_checkpoint("full")
    backend.clear()  # a rebuild starts ... and the process dies before the next save
    backend.add([VectorEntry(2, unit(np.ones(8)), "s", "semantic", T0)])
    backend.close()
    again = opened(shared_database, table)
    with caplog.at_level("DEBUG", logger=LOG):
        assert again.load_checkpoint() is None  # never "full": entry 1 is gone
    assert not caplog.records  # nothing saved since the clear: nothing to report
    assert len(again) == 0


def test_nothing_saved_is_silent(shared_database: str, table: str, opened: Any,
                                 caplog: pytest.LogCaptureFixture) -> None:
    backend = opened(shared_database, table)
    with caplog.at_level("DEBUG", logger=LOG):
        assert backend.load_checkpoint() is None
    # Entries added before any save (Athena's first remembers) are not damage either;
    # but they were never saved, so the backend is empty afterwards.
    backend.add([VectorEntry(1, unit(np.ones(8)), "s", "semantic", T0)])
    with caplog.at_level("DEBUG", logger=LOG):
        assert opened(shared_database, table).load_checkpoint() is None
    assert not caplog.records
    assert len(backend) == 0


@pytest.mark.parametrize("damage", [
    "DELETE FROM {t}_state",                           # the state row went
    "DROP TABLE {t}_state",                            # ... or the whole state table
    "UPDATE {t}_state SET entries = NULL",             # the count is unknown
    "INSERT INTO {t} SELECT key + 100, embedding, scope, layer, valid_from, valid_to "
    "FROM {t}",                                        # rows added by something else
    "DROP TABLE {t}",                                  # the vectors went
])
def test_state_changed_behind_its_back_is_reported_and_cleared(
        shared_database: str, table: str, opened: Any, caplog: pytest.LogCaptureFixture,
        damage: str) -> None:
    backend = opened(shared_database, table)
    backend.add([VectorEntry(i, unit(np.arange(8) + i), "s", "semantic", T0)
                 for i in range(1, 4)])
    backend.save_checkpoint("saved")
    backend.close()
    sql(shared_database, damage.format(t=table))
    again = opened(shared_database, table)
    with caplog.at_level("WARNING", logger=LOG):
        assert again.load_checkpoint() is None
    assert [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(again) == 0
    again.add([VectorEntry(7, unit(np.ones(8)), "s", "semantic", T0)])
    again.save_checkpoint("after")
    assert again.load_checkpoint() == "after"


def test_a_table_of_another_dimension_is_rebuilt_never_mixed(
        shared_database: str, table: str, opened: Any, caplog: pytest.LogCaptureFixture) -> None:
    small = opened(shared_database, table, dimension=8)
    small.add([VectorEntry(1, unit(np.ones(8)), "s", "semantic", T0)])
    small.save_checkpoint("eight")
    small.close()
    wide = opened(shared_database, table, dimension=16)
    with caplog.at_level("WARNING", logger=LOG):
        assert wide.load_checkpoint() is None  # tables are made (again) on first use
    assert "vector(8)" in caplog.text
    assert len(wide) == 0
    wide.add([VectorEntry(1, unit(np.ones(16)), "s", "semantic", T0)])
    assert [k for k, _ in wide.search(unit(np.ones(16)), k=1, where=RecallFilter("s"))] == [1]


def test_a_table_that_is_not_ours_is_left_alone(shared_database: str, table: str) -> None:
    sql(shared_database, f"CREATE TABLE {table} (id int, payload text)")
    sql(shared_database, f"INSERT INTO {table} VALUES (1, 'theirs')")
    with pytest.raises(StorageError, match="not an Athena vector table"):
        PgVectorBackend.from_context(context(url=shared_database, table=table))
    assert sql(shared_database, f"SELECT payload FROM {table}") == [("theirs",)]


def test_a_table_of_another_store_is_refused(shared_database: str, table: str) -> None:
    def backend(store: str) -> PgVectorBackend:
        return PgVectorBackend(8, PgVectorOptions(url=shared_database, table=table,
                                                  store=store))

    first = backend("sqlite:" + "a" * 32)
    first.add([VectorEntry(1, unit(np.ones(8)), "s", "semantic", T0)])  # makes the table
    first.close()
    with pytest.raises(ConfigError, match="must not share a table"):
        backend("sqlite:" + "b" * 32)
    again = backend("sqlite:" + "a" * 32)
    assert len(again) == 1
    again.close()


def test_changed_hnsw_settings_rebuild_the_index(shared_database: str, table: str,
                                                 opened: Any) -> None:
    opened(shared_database, table).close()
    backend = opened(shared_database, table, m=8, ef_construction=32)
    backend.save_checkpoint("saved")
    (options,) = sql(shared_database, f"SELECT reloptions FROM pg_class "
                                      f"WHERE relname = '{table}_hnsw'")[0]
    assert sorted(options) == ["ef_construction=32", "m=8"]


def test_mixed_vector_shapes_are_refused(shared_database: str, table: str,
                                         opened: Any) -> None:
    backend = opened(shared_database, table)
    with pytest.raises(InvalidArgumentError):
        backend.add([VectorEntry(1, np.ones(8, np.float32), "s", "semantic", T0),
                      VectorEntry(2, np.ones(7, np.float32), "s", "semantic", T0)])
    assert len(backend) == 0


def test_a_repeated_key_in_one_batch_keeps_the_last(shared_database: str, table: str,
                                                    opened: Any) -> None:
    backend = opened(shared_database, table)
    basis = np.eye(8, dtype=np.float32)
    backend.add([VectorEntry(1, basis[0], "s", "semantic", T0),
                 VectorEntry(1, basis[1], "s", "semantic", T0)])
    assert len(backend) == 1
    assert backend.search(basis[1], k=1, where=RecallFilter("s"))[0][1] == pytest.approx(1.0)
    backend.save_checkpoint("one entry")
    assert backend.load_checkpoint() == "one entry"  # the recorded count is right too


# --- filters inside the search -----------------------------------------------------------


def random_entries(rng: np.random.Generator, n: int, dimension: int) -> list[VectorEntry]:
    vectors = unit(rng.normal(size=(n, dimension)))
    scopes = rng.choice(["big", "mid", "tiny"], size=n, p=[0.80, 0.19, 0.01])
    layers = rng.choice(["semantic", "episodic"], size=n)
    days = rng.integers(0, 100, size=n)
    ends = rng.integers(1, 60, size=n)
    return [VectorEntry(key, vectors[key], str(scopes[key]), str(layers[key]),
                        T0 + timedelta(days=int(days[key])),
                        None if key % 3 else T0 + timedelta(days=int(days[key] + ends[key])))
            for key in range(n)]


FILTERS = [
    RecallFilter("big"),
    RecallFilter("big", layers={"episodic"}),
    RecallFilter("big", as_of=T0 + timedelta(days=50)),
    RecallFilter("big", since=T0 + timedelta(days=20), until=T0 + timedelta(days=70)),
    RecallFilter("mid"),
    RecallFilter("mid", layers={"semantic"}, as_of=T0 + timedelta(days=80)),
    RecallFilter("tiny"),
    RecallFilter("big", keys=set(range(0, 12_000, 7))),
    RecallFilter("big", keys=set(range(0, 12_000, 3))),
    RecallFilter("big", layers=set()),
    RecallFilter("nobody"),
]


def test_filters_match_the_exact_backend(shared_database: str, table: str,
                                         opened: Any) -> None:
    """Every filter is applied inside the SQL search: only matching entries come back,
    as many as the exact backend finds, mostly the same ones (all of them where the
    search is exact: a short key list)."""
    rng = np.random.default_rng(11)
    entries = random_entries(rng, 12_000, 16)
    backend, exact = opened(shared_database, table, dimension=16, maintenance_work_mem="256MB"
                            ), ExactVectorIndex(16)
    backend.clear()  # filled as Athena fills it: clear, add, save
    backend.add(entries)
    exact.add(entries)
    backend.save_checkpoint("built")  # the HNSW index built in one pass, the table analysed
    assert len(backend) == 12_000
    for where in FILTERS:
        hits = total = 0
        for query in unit(rng.normal(size=(5, 16))):
            truth = exact.search(query, k=10, where=where)
            found = backend.search(query, k=10, where=where)
            assert len(found) == len(truth), where
            assert all(key_matches(entries[key], where) for key, _ in found), where
            scores = [score for _, score in found]
            assert scores == sorted(scores, reverse=True)
            if where.keys is not None and len(where.keys) < EXACT_BELOW:
                assert [k for k, _ in found] == [k for k, _ in truth], where
                assert scores == pytest.approx([s for _, s in truth], abs=1e-5)
            hits += len({k for k, _ in truth} & {k for k, _ in found})
            total += len(truth)
        assert total == 0 or hits / total >= 0.9, where


def key_matches(entry: VectorEntry, where: RecallFilter) -> bool:
    if entry.scope != where.scope or (where.layers is not None
                                      and entry.layer not in where.layers):
        return False
    if where.as_of is None:
        alive = entry.valid_to is None
    else:
        alive = entry.valid_from <= where.as_of and (entry.valid_to is None
                                                     or entry.valid_to > where.as_of)
    return (alive and (where.since is None or entry.valid_from >= where.since)
            and (where.until is None or entry.valid_from < where.until)
            and (where.keys is None or entry.key in where.keys))


def test_a_selective_filter_still_returns_k(shared_database: str, table: str,
                                            opened: Any) -> None:
    """10,000 closer entries in another scope must not crowd ours out of an index scan."""
    rng = np.random.default_rng(5)
    query = unit(np.ones(16))
    near = unit(query + 0.1 * rng.normal(size=(10_000, 16)))
    far = unit(query + 1.0 * rng.normal(size=(EXACT_BELOW + 500, 16)))
    backend = opened(shared_database, table, dimension=16)
    backend.clear()  # filled as Athena fills it: clear, add, save
    backend.add([VectorEntry(i, v, "crowd", "semantic", T0) for i, v in enumerate(near)]
                + [VectorEntry(100_000 + i, v, "ours", "semantic", T0)
                   for i, v in enumerate(far)])
    backend.save_checkpoint("built")
    found = backend.search(query, k=50, where=RecallFilter("ours"))
    assert len(found) == 50
    assert all(key >= 100_000 for key, _ in found)
    truth = set((100_000 + np.argsort(-(far @ query))[:50]).tolist())
    assert len(truth & {k for k, _ in found}) >= 45
