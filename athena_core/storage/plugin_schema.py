"""Tables of plugins in Athena's database, created and upgraded by the plugins' migrations.

A plugin that keeps rows of its own in Athena's database (a memory layer's table keyed
to ``memories.pk``) ships Alembic revisions in a ``versions/`` directory of its package
and calls :func:`upgrade_plugin_schema` from its factory. Athena supplies the Alembic
environment (the plugin writes no ``env.py``) and runs the revisions the database lacks
under the same lock as its own migrations, so processes opening one database at once do
not race. Each plugin's revisions are tracked in a version table of its own,
``athena_schema_<name>``, so they never mix with Athena's or another plugin's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from athena_core.errors import PluginContractError, SchemaVersionError
from athena_core.storage.engine import Storage

__all__ = ["upgrade_plugin_schema", "version_table"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def version_table(name: str) -> str:
    """The table that records which of plugin ``name``'s revisions the database has."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PluginContractError(
            f"Plugin schema name {name!r} is not usable in a table name.",
            hint="Use 1 to 40 lower-case letters, digits and underscores, starting with a "
                 "letter (for example the plugin's name with '-' replaced by '_').")
    return f"athena_schema_{name}"


def upgrade_plugin_schema(storage: Storage, *, name: str, migrations: Path | str) -> None:
    """Bring plugin ``name``'s tables in ``storage`` to its newest revision.

    ``migrations`` is the directory holding the plugin's ``versions/`` (Alembic revision
    files: ``revision``, ``down_revision``, ``upgrade()`` using ``alembic.op``). A
    database already at the newest revision costs one query. A database at a revision
    the plugin does not know (written by a newer version of it) is refused with
    :class:`~athena_core.errors.SchemaVersionError` and left untouched.
    """
    from alembic.script import ScriptDirectory

    table = version_table(name)
    script = ScriptDirectory(str(migrations))
    heads = script.get_heads()
    if len(heads) != 1:
        raise PluginContractError(
            f"Plugin schema {name!r} has {len(heads)} newest revisions in {migrations} "
            f"({', '.join(heads) or 'none'}); it needs exactly one.",
            hint="Give each revision the previous one as down_revision.")
    with storage._translated():
        if _current(storage, table) == heads[0]:
            return
        with storage._migration_lock():
            current = _current(storage, table)  # another process may have just upgraded
            if current == heads[0]:
                return
            known = {revision.revision for revision in script.walk_revisions()}
            if current is not None and current not in known:
                raise SchemaVersionError(
                    f"The database holds revision {current!r} of plugin schema {name!r}, "
                    "which the installed plugin does not know.",
                    hint="It was written by a newer version of the plugin; upgrade it.")
            _upgrade(storage, script, table)


def _current(storage: Storage, table: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with storage._read_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": table})
        return context.get_current_revision()


def _upgrade(storage: Storage, script: Any, table: str) -> None:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs("head", revision)  # what `alembic upgrade head` runs

    with EnvironmentContext(Config(), script, fn=steps, destination_rev="head") as env, \
            storage._write_engine.begin() as connection:
        env.configure(connection=connection, version_table=table, transactional_ddl=True)
        with env.begin_transaction():
            env.run_migrations()
