"""Schema migrations: models and migrations agree, and opening an older database upgrades it."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine

from athena_core import Athena
from athena_core.storage import SCHEMA_HEAD, migrations
from athena_core.storage.models import Base
from tests.conftest import DATABASE_URL, make_config

REVISIONS = sorted(migrations.known_revisions())


def test_schema_head_constant_matches_the_migrations() -> None:
    assert migrations.head() == SCHEMA_HEAD


def test_models_and_migrations_agree(tmp_path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrations.upgrade(engine, None)

    def include(obj, name, type_, reflected, compare_to) -> bool:
        return not (name or "").startswith("memories_fts")

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_downgrade_to_base_and_back(tmp_path) -> None:
    from alembic import command

    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrations.upgrade(engine, None)
    command.downgrade(migrations.alembic_config(engine), "base")
    with engine.connect() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    assert not {"memories", "memories_fts", "facts"} & tables
    migrations.upgrade(engine, None)
    engine.dispose()


@pytest.mark.skipif(bool(DATABASE_URL), reason="builds an SQLite file")
@pytest.mark.parametrize("revision", REVISIONS)
def test_database_from_an_older_athena_is_upgraded_without_losing_rows(tmp_path,
                                                                       revision) -> None:
    data_dir = tmp_path / "home"
    data_dir.mkdir()
    engine = create_engine(f"sqlite:///{data_dir / 'athena.db'}")
    migrations.upgrade(engine, None, target=revision)
    engine.dispose()
    # Rows as that version wrote them (its schema is a subset of today's for these tables).
    conn = sqlite3.connect(data_dir / "athena.db")
    conn.execute(
        "INSERT INTO memories (id, scope, layer, text, metadata, importance, created_at, "
        "updated_at, valid_from) VALUES ('01OLD', 'default', 'semantic', "
        "'written before the upgrade', '{}', 0.5, '2026-01-01 00:00:00.000000', "
        "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')")
    conn.execute("INSERT INTO facts (memory_pk, lineage_id, version) VALUES (1, '01OLD', 1)")
    conn.commit()
    conn.close()

    config = make_config(data_dir)
    with Athena.open(config=config) as athena:
        assert athena.storage.schema_revision() == SCHEMA_HEAD
        assert athena.get("01OLD").text == "written before the upgrade"
        assert athena.recall("written before")[0].id == "01OLD"  # full-text kept in step
        assert [f.id for f in athena.semantic.history("01OLD")] == ["01OLD"]
