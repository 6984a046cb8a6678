"""The numpy-file backend passes Athena's vector backend contracts, installed."""

from __future__ import annotations

from pathlib import Path

from athena_core.testing import PersistentVectorBackendContract

from athena_numpy_vectors.index import FILE_NAME, NumpyFileIndex


class TestNumpyFileIndex(PersistentVectorBackendContract):
    name = "numpy-file"

    def make_backend(self, dimension: int, data_dir: Path) -> NumpyFileIndex:
        return NumpyFileIndex(dimension, data_dir / FILE_NAME)

    def damage(self, data_dir: Path) -> None:
        saved = data_dir / FILE_NAME
        saved.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
