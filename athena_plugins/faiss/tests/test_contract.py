"""The vector backend contract, once per way the backend searches."""

from __future__ import annotations

from pathlib import Path

from athena_core.testing import PersistentVectorBackendContract

from athena_faiss import FaissOptions, FaissVectorIndex


def damage(data_dir: Path) -> None:
    """Truncate the largest saved file, as a full disk or a killed copy would."""
    directory = data_dir / "faiss"
    victim = max((p for p in directory.iterdir() if not p.name.startswith(("manifest", "lock"))),
                 key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])


class TestExactMode(PersistentVectorBackendContract):
    """Below ``hnsw_threshold`` every search is exact numpy over the matching rows."""

    name = "faiss"

    def make_backend(self, dimension: int, data_dir: Path) -> FaissVectorIndex:
        return FaissVectorIndex(dimension, data_dir / "faiss", FaissOptions())

    def damage(self, data_dir: Path) -> None:
        damage(data_dir)


class TestGraphMode(PersistentVectorBackendContract):
    """A threshold of 1 builds the HNSW graph at once, and ``exact_below = 0`` sends every
    search through it whose filter keeps 5% or more of the scope (the filter as faiss's
    ``IDSelectorBitmap``)."""

    name = "faiss"
    exact = False
    min_recall = 0.9

    def make_backend(self, dimension: int, data_dir: Path) -> FaissVectorIndex:
        options = FaissOptions(hnsw_threshold=1, exact_below=0, m=16, ef_construction=64,
                               ef_search=64)
        return FaissVectorIndex(dimension, data_dir / "faiss", options)

    def damage(self, data_dir: Path) -> None:
        damage(data_dir)
