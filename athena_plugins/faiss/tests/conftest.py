"""Fixtures: Athena data dirs whose athena.toml selects the faiss backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from athena_core import Athena
from faiss_test_helpers import ConceptsPlugin

#: Vector options that make every search go through an HNSW graph (which keeps dead rows).
GRAPH_OPTIONS = {"hnsw_threshold": 1, "exact_below": 0, "m": 8, "ef_construction": 40,
                 "compact_fraction": 0.9}


def write_config(data_dir: Path, vector_options: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    options = ", ".join(f"{key} = {value!r}" for key, value in vector_options.items())
    (data_dir / "athena.toml").write_text(
        "[retrieval]\n"
        'embedder = "concepts"\n'
        'vector_backend = "faiss"\n'
        f"vector_options = {{ {options} }}\n"
        "\n[plugins]\nstrict = true\n", encoding="utf-8")


@pytest.fixture(params=["exact", "graph"])
def data_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A data dir whose athena.toml selects the faiss backend (searching exactly, or
    through a graph for every search)."""
    home = tmp_path / "athena-home"
    write_config(home, GRAPH_OPTIONS if request.param == "graph" else {})
    return home


@pytest.fixture
def open_athena(data_dir: Path) -> Iterator[Callable[[], Athena]]:
    """Open Athena on the data dir through the front door; all are closed at the end."""
    opened: list[Athena] = []

    def open_() -> Athena:
        athena = Athena.open(data_dir, plugins=[ConceptsPlugin()])
        opened.append(athena)
        return athena

    yield open_
    for athena in opened:
        athena.close()
