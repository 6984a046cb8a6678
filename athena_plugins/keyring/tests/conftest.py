"""Fixtures: a real keyring backend for each test, and Athena stores whose master key is in it.

The backend is keyrings.alt's ``PlaintextKeyring`` (a file-based keyring), selected the
way a user selects one, through ``PYTHON_KEYRING_BACKEND``, its file placed in the
test's directory through ``XDG_DATA_HOME``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.core
import pytest
from athena_core import Athena
from keyring_test_helpers import FILE_BACKEND, keyring_config


@pytest.fixture
def select_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[Callable[[str], Any]]:
    """``select(name)`` makes the keyring backend ``name`` (a dotted class name) the one
    ``keyring`` uses in this process, as ``PYTHON_KEYRING_BACKEND`` does; the process's
    previous backend is restored afterwards."""
    previous = keyring.get_keyring()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))

    def select(name: str) -> Any:
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", name)
        keyring.core.init_backend()
        backend = keyring.get_keyring()
        assert f"{type(backend).__module__}.{type(backend).__qualname__}" == name
        return backend

    yield select
    keyring.set_keyring(previous)


@pytest.fixture
def keyring_file(select_backend: Callable[[str], Any], tmp_path: Path) -> Path:
    """The file of the file-based keyring selected for this test."""
    backend = select_backend(FILE_BACKEND)
    path = Path(backend.file_path)
    assert path.is_relative_to(tmp_path)
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return (tmp_path / "athena-home").resolve()


@pytest.fixture
def open_athena(data_dir: Path) -> Iterator[Callable[..., Athena]]:
    """Open Athena on ``data_dir`` with the keyring key provider (``key_options`` as
    keywords); all are closed at the end."""
    opened: list[Athena] = []

    def open_(**key_options: str) -> Athena:
        athena = Athena.open(config=keyring_config(data_dir, **key_options))
        opened.append(athena)
        return athena

    yield open_
    for athena in opened:
        athena.close()
