"""Fixtures: Athena instances that find the installed athena-bookmarks plugin through its
entry point, as a user's would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from athena_core import Athena
from athena_core.config import Config


@pytest.fixture
def open_athena(tmp_path: Path) -> Iterator[Callable[..., Athena]]:
    """Open instances on data dirs under ``tmp_path`` (``home``: the dir's name)."""
    opened: list[Athena] = []

    def open_(home: str = "home", **sections: dict) -> Athena:
        raw = {name: dict(values) for name, values in sections.items()}
        raw.setdefault("plugins", {}).setdefault("strict", True)
        raw.setdefault("retrieval", {}).setdefault("embedder", "hashing")
        instance = Athena.open(config=Config.from_mapping(raw, data_dir=tmp_path / home,
                                                          env={}))
        opened.append(instance)
        return instance

    yield open_
    for instance in opened:
        instance.close()


@pytest.fixture
def athena(open_athena: Callable[..., Athena]) -> Athena:
    return open_athena()
