"""Through the front door: Athena.open with ``vector_backend = "pgvector"``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import ConfigError
from athena_core.storage.models import MemoryRow
from sqlalchemy import create_engine, inspect, select, text

from athena_pgvector.backend import PgVectorBackend

FACTS = ["Deploys go through staging first", "The database is backed up nightly",
         "Alice owns the billing service", "Incidents are reviewed every Friday"]


def backend(athena: Athena) -> PgVectorBackend:
    assert isinstance(athena.index.backend, PgVectorBackend)
    return athena.index.backend


def key_of(athena: Athena, memory_id: str) -> int:
    with athena.storage.read() as session:
        return session.scalar(select(MemoryRow.pk).where(MemoryRow.id == memory_id))


def rebuilds(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "athena.retrieval" and "Rebuilding" in r.getMessage()]


def tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_remember_and_recall_with_vectors_beside_the_memories(
        database: str, tmp_path: Path, athena_factory: Callable[..., Athena]) -> None:
    athena = athena_factory(tmp_path / "home", storage=database)
    ids = [athena.remember(fact, scope="team") for fact in FACTS]
    athena.remember("Deploys of the other team skip staging", scope="other")
    hits = athena.recall("how do deploys go?", k=2, scope="team")
    assert hits[0].id == ids[0]
    assert all(hit.id in ids for hit in hits)
    assert len(backend(athena)) == 5  # every memory's vector, in PostgreSQL
    assert backend(athena).table == "athena_vectors"
    assert {"athena_vectors", "athena_vectors_state", "memories"} <= set(tables(database))


def test_reopening_adopts_the_saved_vectors_without_a_rebuild(
        database: str, tmp_path: Path, athena_factory: Callable[..., Athena],
        caplog: pytest.LogCaptureFixture) -> None:
    first = athena_factory(tmp_path / "home", storage=database)
    ids = [first.remember(fact) for fact in FACTS]
    first.recall("staging")  # the first sync makes the index (and says so)
    first.close()
    caplog.clear()
    with caplog.at_level("INFO"):
        again = athena_factory(tmp_path / "home", storage=database)
        assert again.recall("who owns billing?", k=1)[0].id == ids[2]
        new = again.remember("Billing invoices go out on the first of the month")
        assert again.recall("billing invoices month", k=1)[0].id == new
    assert rebuilds(caplog) == []
    assert not [r for r in caplog.records if r.name == "athena.pgvector"
                and r.levelname == "WARNING"]
    assert len(backend(again)) == len(FACTS) + 1
    with create_engine(database).connect() as conn:
        saved = json.loads(conn.execute(text(
            "SELECT checkpoint FROM athena_vectors_state")).scalar_one())
    assert saved["last_key"] == key_of(again, new)  # saved after the incremental load


def test_two_instances_on_one_database_share_forgets_and_additions(
        database: str, tmp_path: Path, athena_factory: Callable[..., Athena],
        caplog: pytest.LogCaptureFixture) -> None:
    one = athena_factory(tmp_path / "one", storage=database)
    two = athena_factory(tmp_path / "two", storage=database)
    ids = [one.remember(fact) for fact in FACTS]
    assert two.recall("staging deploys", k=1)[0].id == ids[0]
    assert one.recall("staging deploys", k=1)[0].id == ids[0]
    caplog.clear()  # each instance's first sync made (or adopted) the index
    with caplog.at_level("INFO"):
        # A memory added by one is found by the other.
        added = two.remember("Staging deploys need a green build")
        assert added in [hit.id for hit in one.recall("green build staging", k=2)]
        # A forget in one is honoured by the other, and its vector is gone for both.
        gone = key_of(one, ids[0])
        assert one.forget(ids[0]) == 1
        assert gone not in backend(two) and gone not in backend(one)
        assert ids[0] not in [hit.id for hit in two.recall("staging deploys", k=5)]
        assert ids[0] not in [hit.id for hit in one.recall("staging deploys", k=5)]
        # And back the other way.
        assert two.forget(ids[1]) == 1
        assert ids[1] not in [hit.id for hit in one.recall("database backed up", k=5)]
        assert added in [hit.id for hit in one.recall("green build staging", k=5)]
    assert len(backend(one)) == len(FACTS) - 1
    assert rebuilds(caplog) == []  # the shared checkpoint is adopted, not rebuilt


def test_forgetting_the_newest_memory_needs_no_rebuild(
        database: str, tmp_path: Path, athena_factory: Callable[..., Athena],
        caplog: pytest.LogCaptureFixture) -> None:
    first = athena_factory(tmp_path / "home", storage=database)
    ids = [first.remember(fact) for fact in FACTS]
    first.recall("staging")
    first.forget(ids[-1])
    first.close()
    caplog.clear()
    with caplog.at_level("INFO"):
        athena_factory(tmp_path / "home", storage=database).recall("staging")
    assert rebuilds(caplog) == []


def test_sqlite_storage_with_vectors_in_postgresql(
        database: str, tmp_path: Path, athena_factory: Callable[..., Athena],
        caplog: pytest.LogCaptureFixture) -> None:
    home, other_home = tmp_path / "home", tmp_path / "other"
    athena = athena_factory(home, url=database)
    ids = [athena.remember(fact) for fact in FACTS]
    assert athena.recall("backups nightly", k=1)[0].id == ids[1]
    table = backend(athena).table
    athena.close()
    caplog.clear()
    with caplog.at_level("INFO"):
        again = athena_factory(home, url=database)
        assert again.recall("billing owner", k=1)[0].id == ids[2]
    assert rebuilds(caplog) == []
    assert backend(again).table == table
    # Another SQLite store on the same PostgreSQL: its own table, keys never mixed.
    other = athena_factory(other_home, url=database)
    other_id = other.remember("Friday is the team lunch")
    assert backend(other).table != table
    assert [hit.id for hit in other.recall("Friday", k=5)] == [other_id]
    assert len(backend(other)) == 1 and len(backend(again)) == len(FACTS)
    assert {table, backend(other).table} <= set(tables(database))


def test_two_sqlite_stores_may_not_share_one_named_table(
        database: str, tmp_path: Path, athena_factory: Callable[..., Athena]) -> None:
    athena_factory(tmp_path / "one", url=database, table="team_vectors").remember("one")
    with pytest.raises(ConfigError, match="must not share a table"):
        athena_factory(tmp_path / "two", url=database, table="team_vectors")


def test_sqlite_storage_without_url_is_refused_with_advice(tmp_path: Path) -> None:
    config = Config.from_mapping({"retrieval": {"vector_backend": "pgvector"},
                                  "plugins": {"strict": True}},
                                 data_dir=tmp_path / "home", env={})
    with pytest.raises(ConfigError, match=r"\[retrieval.vector_options\] url"):
        Athena.open(config=config)


@pytest.mark.parametrize("beside", [True, False], ids=["in-athena-database", "sqlite-storage"])
def test_filtered_recall_applies_the_filter_inside_the_vector_search(
        database: str, tmp_path: Path, athena_factory: Callable[..., Athena],
        monkeypatch: pytest.MonkeyPatch, beside: bool) -> None:
    """Beside Athena's tables the backend gets the filter as a SQL predicate; on a SQLite
    store (its table elsewhere) it declines, and Athena filters candidates itself."""
    athena = (athena_factory(tmp_path / "home", storage=database) if beside
              else athena_factory(tmp_path / "home", url=database))
    predicates: list[bool] = []
    search_matching = PgVectorBackend.search_matching

    def spy(self: PgVectorBackend, *args: object, **kwargs: object) -> object:
        found = search_matching(self, *args, **kwargs)  # type: ignore[arg-type]
        predicates.append(found is not None)
        return found

    monkeypatch.setattr(PgVectorBackend, "search_matching", spy)
    ids = {athena.remember(f"{fact} ({team})", metadata={"team": team, "n": n})
           for n, fact in enumerate(FACTS) for team in ("ops", "web")}
    hits = athena.recall("how do deploys go?", k=3, metadata={"team": "web", "n": {"lt": 2}})
    assert hits and {hit.metadata["team"] for hit in hits} == {"web"}
    assert all(hit.metadata["n"] < 2 and hit.id in ids for hit in hits)
    assert predicates == [beside]
