"""Alembic migrations of Athena's schema, run automatically when a database is opened.

Developers add a revision with::

    alembic -c athena_core/storage/migrations/alembic.ini revision -m "what changes"

and set :data:`athena_core.storage.engine.SCHEMA_HEAD` to its id.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

HERE = Path(__file__).parent


def alembic_config(engine: Engine | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["engine"] = engine
    return cfg


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def head() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    return heads[0]


def upgrade(engine: Engine, current: str | None, target: str = "head") -> None:
    """Upgrade the database behind ``engine`` from ``current`` to ``target``."""
    from alembic import command

    from athena_core.storage.engine import raise_if_newer

    raise_if_newer(current, known_revisions())
    command.upgrade(alembic_config(engine), target)
