"""A plugin's own tables in Athena's database, created and upgraded by its revisions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from athena_core.config import StorageConfig
from athena_core.errors import PluginContractError, SchemaVersionError
from athena_core.storage import Storage, upgrade_plugin_schema
from tests.conftest import DATABASE_URL

REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down!r}


def upgrade() -> None:
    {body}
'''


def write_revision(directory: Path, revision: str, down: str | None, body: str) -> None:
    versions = directory / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (versions / f"{revision}.py").write_text(
        REVISION.format(revision=revision, down=down, body=body))


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    if DATABASE_URL:
        pytest.skip("runs on its own SQLite file")
    opened = Storage.open(f"sqlite:///{tmp_path / 'athena.db'}", StorageConfig())
    yield opened
    opened.close()


def tables_and_version(storage: Storage, name: str) -> tuple[set[str], str | None]:
    with storage._read_engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        version = connection.execute(
            text(f"SELECT version_num FROM athena_schema_{name}")).scalar()
    return tables, version


NOTES = ('op.create_table("notes", sa.Column("memory_pk", sa.Integer(), '
         'sa.ForeignKey("memories.pk", ondelete="CASCADE"), primary_key=True))')


def test_creates_then_upgrades_in_its_own_version_table(storage: Storage, tmp_path: Path
                                                        ) -> None:
    migrations = tmp_path / "notes_migrations"
    write_revision(migrations, "n1", None, NOTES)
    upgrade_plugin_schema(storage, name="notes", migrations=migrations)
    upgrade_plugin_schema(storage, name="notes", migrations=migrations)  # at head: nothing
    tables, version = tables_and_version(storage, "notes")
    assert "notes" in tables and version == "n1"
    assert storage.schema_revision() is not None  # Athena's own version is untouched

    write_revision(migrations, "n2", "n1", 'op.add_column("notes", sa.Column("pin", '
                                           'sa.Boolean(), nullable=True))')
    upgrade_plugin_schema(storage, name="notes", migrations=migrations)
    with storage._read_engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("notes")}
    assert columns == {"memory_pk", "pin"}
    assert tables_and_version(storage, "notes")[1] == "n2"


def test_a_revision_the_plugin_does_not_know_is_refused(storage: Storage, tmp_path: Path
                                                        ) -> None:
    migrations = tmp_path / "notes_migrations"
    write_revision(migrations, "n1", None, NOTES)
    upgrade_plugin_schema(storage, name="notes", migrations=migrations)
    with storage.write() as session:
        session.execute(text("UPDATE athena_schema_notes SET version_num = 'n9'"))
    with pytest.raises(SchemaVersionError, match="newer version of the plugin"):
        upgrade_plugin_schema(storage, name="notes", migrations=migrations)
    assert tables_and_version(storage, "notes")[1] == "n9"


@pytest.mark.parametrize("name", ["Notes", "notes-v2", "", "1notes", "x" * 41])
def test_a_name_unusable_in_a_table_name_is_refused(storage: Storage, tmp_path: Path,
                                                    name: str) -> None:
    write_revision(tmp_path, "n1", None, NOTES)
    with pytest.raises(PluginContractError, match="lower-case letters"):
        upgrade_plugin_schema(storage, name=name, migrations=tmp_path)


def test_two_newest_revisions_are_refused(storage: Storage, tmp_path: Path) -> None:
    write_revision(tmp_path, "n1", None, NOTES)
    write_revision(tmp_path, "m1", None, NOTES.replace('"notes"', '"more"'))
    with pytest.raises(PluginContractError, match="exactly one"):
        upgrade_plugin_schema(storage, name="notes", migrations=tmp_path)
