"""Exact cosine search over flat numpy arrays, saved to ``numpy-vectors.npz``.

Every entry is one row of six parallel arrays (key, vector, scope, layer, start and end of
validity). A search scores every row and masks those the filter excludes before taking
the top ``k``, so the filter never truncates results. Adding or removing rebuilds the
arrays: simple and exact, meant for stores of up to some hundred thousand memories.
"""

from __future__ import annotations

import logging
import math
import os
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from athena_core.errors import ConfigError
from athena_core.options import PluginOptions
from athena_core.retrieval import RecallFilter, VectorBackendContext, VectorEntry
from athena_core.retrieval.vectors import best_first, check_vectors, entry_vectors, time_mask

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FILE_NAME", "NumpyFileIndex"]

log = logging.getLogger("athena.numpy_vectors")
#: The file, in the data dir, that holds the entries and their checkpoint.
FILE_NAME = "numpy-vectors.npz"
_OPTIONS = PluginOptions("numpy-file vector backend", "[retrieval.vector_options]", ())
_ARRAYS = ("keys", "vectors", "scopes", "layers", "starts", "ends")


class NumpyFileIndex:
    """A :class:`~athena_core.retrieval.PersistentVectorBackend` in one ``.npz`` file."""

    #: Other processes do not see the entries before they are saved (each has its own).
    shared = False

    def __init__(self, dimension: int, path: Path) -> None:
        import numpy as np

        self._np = np
        self._dimension = dimension
        self._path = path
        #: Scope and layer names, by the small integer stored in ``scopes`` / ``layers``.
        self._names: dict[str, list[str]] = {"scopes": [], "layers": []}
        self._empty()

    @classmethod
    def from_context(cls, context: VectorBackendContext) -> NumpyFileIndex:
        """The factory Athena calls: no options; the file goes in the data dir."""
        _OPTIONS.check_names(context.options)
        if context.data_dir is None:
            raise ConfigError("The numpy-file vector backend needs a data dir to save to.")
        return cls(context.dimension, context.data_dir / FILE_NAME)

    def _empty(self) -> None:
        np = self._np
        self._keys = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, self._dimension), dtype=np.float32)
        self._scopes = np.zeros(0, dtype=np.int32)
        self._layers = np.zeros(0, dtype=np.int32)
        self._starts = np.zeros(0, dtype=np.float64)
        self._ends = np.zeros(0, dtype=np.float64)

    def _code(self, kind: str, name: str) -> int:
        names = self._names[kind]
        if name not in names:
            names.append(name)
        return names.index(name)

    # --- VectorBackend -------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        return self._dimension

    def add(self, entries: Sequence[VectorEntry]) -> None:
        if not entries:
            return
        np = self._np
        vectors = entry_vectors(entries, self._dimension)  # checked before anything changes
        latest = list({entry.key: i for i, entry in enumerate(entries)}.values())
        chosen = [entries[i] for i in latest]
        self.remove(entry.key for entry in chosen)
        self._keys = np.concatenate([self._keys, [e.key for e in chosen]]).astype(np.int64)
        self._vectors = np.concatenate([self._vectors, vectors[latest]])
        self._scopes = np.concatenate(
            [self._scopes, [self._code("scopes", e.scope) for e in chosen]]).astype(np.int32)
        self._layers = np.concatenate(
            [self._layers, [self._code("layers", e.layer) for e in chosen]]).astype(np.int32)
        self._starts = np.concatenate([self._starts, [e.valid_from.timestamp()
                                                      for e in chosen]])
        self._ends = np.concatenate([self._ends, [math.inf if e.valid_to is None
                                                  else e.valid_to.timestamp() for e in chosen]])

    def remove(self, keys: Iterable[int]) -> None:
        np = self._np
        gone = np.fromiter(keys, dtype=np.int64)
        if not len(gone) or not len(self._keys):
            return
        keep = ~np.isin(self._keys, gone)
        for name in _ARRAYS:
            setattr(self, f"_{name}", getattr(self, f"_{name}")[keep])

    def search(self, vector: np.ndarray, *, k: int, where: RecallFilter
               ) -> list[tuple[int, float]]:
        np = self._np
        query = check_vectors(vector, self._dimension, source="query embedding")[0]
        if k <= 0 or where.scope not in self._names["scopes"]:
            return []
        mask = self._scopes == self._names["scopes"].index(where.scope)
        mask &= time_mask(self._starts, self._ends, where)
        if where.layers is not None:
            codes = [self._names["layers"].index(name) for name in where.layers
                     if name in self._names["layers"]]
            mask &= np.isin(self._layers, codes)
        if where.keys is not None:
            mask &= np.isin(self._keys, np.fromiter(where.keys, dtype=np.int64))
        candidates = int(mask.sum())
        if candidates == 0:
            return []
        scores = self._vectors @ query
        scores[~mask] = -np.inf
        return [(int(self._keys[i]), float(scores[i]))
                for i in best_first(scores, min(k, candidates))]

    def clear(self) -> None:
        self._empty()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and bool((self._keys == key).any())

    def close(self) -> None:
        self._empty()

    # --- PersistentVectorBackend ---------------------------------------------------------

    def save_checkpoint(self, checkpoint: str) -> None:
        """Write the entries and ``checkpoint`` to a new file, then rename it over the
        old one: a reader sees the old file or the new one, never half of one."""
        np = self._np
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        with temporary.open("wb") as out:
            np.savez(out, checkpoint=np.array(checkpoint),
                     scope_names=np.array(self._names["scopes"], dtype=str),
                     layer_names=np.array(self._names["layers"], dtype=str),
                     **{name: getattr(self, f"_{name}") for name in _ARRAYS})
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self._path)

    def load_checkpoint(self) -> str | None:
        """The saved entries and their checkpoint; ``None`` (and a warning) when the file
        is missing or unreadable, and the index is then empty."""
        self._empty()
        self._names = {"scopes": [], "layers": []}
        if not self._path.exists():
            return None
        try:
            checkpoint = self._read()
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("numpy-file vector backend: %s is unreadable (%s); Athena rebuilds "
                        "the index from the database.", self._path, exc)
            self._empty()
            self._names = {"scopes": [], "layers": []}
            return None
        return checkpoint

    def _read(self) -> str:
        np = self._np
        with np.load(self._path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in _ARRAYS}
            checkpoint = str(saved["checkpoint"])
            names = {"scopes": [str(n) for n in saved["scope_names"]],
                     "layers": [str(n) for n in saved["layer_names"]]}
        rows = len(arrays["keys"])
        if arrays["vectors"].shape != (rows, self._dimension) or any(
                len(array) != rows for array in arrays.values()):
            raise ValueError(f"arrays of mismatched shapes for dimension {self._dimension}")
        for name, array in arrays.items():
            setattr(self, f"_{name}", array)
        self._names = names
        return checkpoint
