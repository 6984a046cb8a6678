"""Athena selects the installed backend by name, and reopens from its saved file."""

from __future__ import annotations

from pathlib import Path

import pytest
from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import OptionError

from athena_numpy_vectors.index import FILE_NAME, NumpyFileIndex


def open_athena(data_dir: Path, **retrieval: object) -> Athena:
    raw = {"plugins": {"strict": True},
           "retrieval": {"embedder": "hashing", "vector_backend": "numpy-file", **retrieval}}
    return Athena.open(config=Config.from_mapping(raw, data_dir=data_dir, env={}))


def test_recall_through_the_backend_and_after_reopening(tmp_path: Path) -> None:
    with open_athena(tmp_path) as athena:
        assert isinstance(athena.index.backend, NumpyFileIndex)  # type: ignore[union-attr]
        kept = athena.remember("the staging deploy runs every night")
        gone = athena.remember("the coffee machine is on the second floor")
        athena.forget(gone)
        assert [hit.id for hit in athena.recall("staging deploy")][:1] == [kept]
    assert (tmp_path / FILE_NAME).exists()
    with open_athena(tmp_path) as again:  # loads the file, then what was written since
        assert [hit.id for hit in again.recall("when does staging deploy?")][:1] == [kept]
        assert len(again.index.backend) == 1  # type: ignore[union-attr, arg-type]


def test_unknown_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="numpy-file vector backend"):
        open_athena(tmp_path, vector_options={"m": 16})
