"""Shared fixtures.

``athena`` opens a fresh instance on a temporary SQLite data dir, or, when
``ATHENA_TEST_DATABASE_URL`` is set (the ``postgres`` tox env sets it), on that
database, emptied first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from athena_core import Athena
from athena_core.config import Config

DATABASE_URL = os.environ.get("ATHENA_TEST_DATABASE_URL", "")

# The fuzz tests: about 50 examples per operation keep the suite fast;
# `pytest --hypothesis-profile=thorough` runs many more.
settings.register_profile(
    "athena", max_examples=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example,
                           HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", settings.get_profile("athena"), max_examples=1_000)
if settings.get_current_profile_name() == "default":  # not when imported again as a module
    settings.load_profile("athena")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "athena-home"


def make_config(data_dir: Path, **sections: dict) -> Config:
    """A config for ``data_dir`` with the test database and ``sections`` overrides."""
    raw = {name: dict(values) for name, values in sections.items()}
    if DATABASE_URL:
        raw.setdefault("storage", {})["url"] = DATABASE_URL
    raw.setdefault("plugins", {}).setdefault("strict", True)
    # Word-level vectors, whatever embedder plugins the environment has installed.
    raw.setdefault("retrieval", {}).setdefault("embedder", "hashing")
    return Config.from_mapping(raw, data_dir=data_dir, env={})


def _empty_database() -> None:
    """Empty the test database, first ending every other session on it.

    A test stopped by its timeout can leave a connection inside a transaction; without
    this, its locks would make every later test wait for the drop until it timed out too.
    """
    if not DATABASE_URL:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.execute(text("SET LOCAL lock_timeout = '30s'"))
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def athena_factory(data_dir: Path) -> Iterator:
    """Open Athena instances on ``data_dir``; all are closed at the end of the test."""
    _empty_database()
    opened: list[Athena] = []

    def open_(path: Path | None = None, **sections: dict) -> Athena:
        instance = Athena.open(config=make_config(path or data_dir, **sections))
        opened.append(instance)
        return instance

    yield open_
    for instance in opened:
        instance.close()


@pytest.fixture
def athena(athena_factory) -> Athena:
    return athena_factory()
