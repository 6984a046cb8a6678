"""Fixtures: an Athena instance whose executor is ``restrictedpython``, selected explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from athena_core import Athena
from athena_core.config import Config


def make_config(data_dir: Path, **sections: dict[str, Any]) -> Config:
    """A config for ``data_dir`` with ``sections`` overrides (plugins load strictly)."""
    raw = {name: dict(values) for name, values in sections.items()}
    raw.setdefault("plugins", {}).setdefault("strict", True)
    return Config.from_mapping(raw, data_dir=data_dir, env={})


@pytest.fixture
def open_athena(tmp_path: Path) -> Iterator[Any]:
    """Open Athena instances (``sections`` as in athena.toml); all closed at the end."""
    opened: list[Athena] = []

    def open_(**sections: dict[str, Any]) -> Athena:
        instance = Athena.open(config=make_config(tmp_path / f"athena-home-{len(opened)}",
                                                  **sections))
        opened.append(instance)
        return instance

    yield open_
    for instance in opened:
        instance.close()


@pytest.fixture
def athena(open_athena: Any) -> Athena:
    """An instance that runs programs with the restrictedpython executor."""
    return open_athena(execution={"executor": "restrictedpython"})
