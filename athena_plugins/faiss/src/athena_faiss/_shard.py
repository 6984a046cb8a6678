"""One scope's entries: append-only rows, attribute columns, and exact or HNSW search.

Every search names exactly one scope, so each scope is its own shard: the scope
filter costs nothing and never thins out a graph search, and a small scope
(most of them, in a store with many agents or users) is searched exactly
however large the whole store is.

Rows are only appended. A removed or replaced entry leaves a dead row (HNSW
cannot delete) that every search masks out; the backend compacts a shard when
dead rows pass a share of it. Below ``hnsw_threshold`` live entries a shard
keeps its vectors in a numpy array and every search is exact; from it on they
live in a faiss HNSW graph, searched with the rest of the filter (layers,
validity, time range, keys) as an ``IDSelectorBitmap`` inside the graph search,
or exactly over the matching rows when they are few.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import best_first, time_mask

from athena_faiss.options import FaissOptions

if TYPE_CHECKING:
    import numpy as np

__all__ = ["COLUMNS", "Shard"]

#: Per-row columns: name -> (numpy dtype, value of an unused row).
COLUMNS: dict[str, tuple[str, Any]] = {
    "keys": ("int64", -1),
    "layers": ("int32", -1),
    "starts": ("float64", -math.inf),
    "ends": ("float64", math.inf),
    "alive": ("bool", False),
}
#: Rows added to a graph per faiss call (faiss spreads each call over its threads).
_GRAPH_BATCH = 65_536
#: Rows scored per numpy step of an exact search: small enough that BLAS does not hand
#: it to its thread pool (slower for a matrix-vector product, much slower on a busy
#: machine) and that gathered rows stay in cache.
_EXACT_BATCH = 1_024
#: A filter leaving less than this share of a graph's rows is searched exactly: below
#: it, faiss's filtered HNSW search misses too many true neighbours (measured:
#: docs/decisions/0008-faiss-index.md).
_MIN_GRAPH_SHARE = 0.05


class Shard:
    """The entries of one scope (see the module docstring)."""

    def __init__(self, np: Any, dimension: int, options: FaissOptions) -> None:
        self._np = np
        self.dimension = dimension
        self.options = options
        self.size = 0  # rows used, dead ones included
        self.live = 0
        self.graph: Any = None
        self.vectors: np.ndarray | None = np.zeros((0, dimension), dtype=np.float32)
        self.columns: dict[str, np.ndarray] = {
            name: np.full(0, fill, dtype=dtype) for name, (dtype, fill) in COLUMNS.items()}

    @property
    def dead(self) -> int:
        return self.size - self.live

    # --- storage ----------------------------------------------------------------------

    def _reserve(self, rows: int) -> None:
        np = self._np
        capacity = len(self.columns["keys"])
        if rows <= capacity:
            return
        capacity = max(rows, 2 * capacity, 16)
        n = self.size
        for name, (dtype, fill) in COLUMNS.items():
            column = np.full(capacity, fill, dtype=dtype)
            column[:n] = self.columns[name][:n]
            self.columns[name] = column
        if self.graph is None:
            assert self.vectors is not None
            vectors = np.zeros((capacity, self.dimension), dtype=np.float32)
            vectors[:n] = self.vectors[:n]
            self.vectors = vectors

    def adopt(self, columns: Sequence[np.ndarray], vectors: np.ndarray | None, graph: Any
              ) -> None:
        """Take over saved rows (``vectors`` for a flat shard, ``graph`` for the other)."""
        self.size = len(columns[0])
        self.live = int(columns[-1].sum())
        self.columns = {name: column for name, column in zip(COLUMNS, columns, strict=True)}
        self.graph, self.vectors = graph, vectors
        if graph is not None:
            graph.hnsw.efSearch = self.options.ef_search

    def stored(self) -> np.ndarray:
        """Every row's vector (a view of the numpy array, or of the graph's storage)."""
        if self.graph is None:
            assert self.vectors is not None
            return self.vectors[:self.size]
        return self._codes().view(self._np.float32).reshape(self.size, self.dimension)

    def _codes(self) -> np.ndarray:
        """The graph's stored vectors, one row of bytes each (a writable view)."""
        import faiss

        storage = faiss.downcast_index(self.graph.storage)
        if self.size == 0:
            return self._np.zeros((0, storage.code_size), dtype=self._np.uint8)
        return _view(storage.codes, self.size * storage.code_size).reshape(
            self.size, storage.code_size)

    def same_vectors(self, rows: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Whether each row already holds its vector."""
        return (self.stored()[rows] == vectors).all(axis=1)  # type: ignore[no-any-return]

    def append(self, vectors: np.ndarray) -> range:
        """Append live rows for ``vectors`` (attributes are set by the caller)."""
        start, end = self.size, self.size + len(vectors)
        self._reserve(end)
        if self.graph is None:
            assert self.vectors is not None
            self.vectors[start:end] = vectors
        else:
            _graph_add(self.graph, vectors)
        self.size = end
        self.live += len(vectors)
        self.columns["alive"][start:end] = True
        return range(start, end)

    def kill(self, rows: Sequence[int]) -> None:
        """Mark rows dead and erase what they held.

        A forgotten memory must leave nothing behind, in memory or in a saved index:
        the row's vector and attributes are zeroed, and in a graph its links too
        (the centroid of its neighbours would approximate its vector). Links *to*
        it stay until the shard is compacted; they lead to a vector of zeros.
        """
        if not len(rows):
            return
        np = self._np
        rows = np.asarray(rows, dtype=np.int64)
        for name, (_, fill) in COLUMNS.items():
            self.columns[name][rows] = fill
        self.live -= len(rows)
        if self.graph is None:
            assert self.vectors is not None
            self.vectors[rows] = 0.0
            return
        self._codes()[rows] = 0
        hnsw = self.graph.hnsw
        offsets = _view(hnsw.offsets, self.size + 1)
        neighbors = _view(hnsw.neighbors, int(offsets[self.size]))
        for row in rows.tolist():
            neighbors[offsets[row]:offsets[row + 1]] = -1
        if hnsw.entry_point in set(rows.tolist()):
            self._move_entry_point()

    def _move_entry_point(self) -> None:
        """Enter the graph at a live row of the highest level (the old entry was erased)."""
        np = self._np
        hnsw = self.graph.hnsw
        alive = np.flatnonzero(self.columns["alive"][:self.size])
        if not len(alive):
            # Nothing left to reach: start over with an empty graph.
            self.graph = new_graph(self.dimension, self.options)
            self.size = self.live = 0
            for name, (_, fill) in COLUMNS.items():
                self.columns[name][:] = fill
            return
        levels = _view(hnsw.levels, self.size)[alive]
        entry = int(alive[int(np.argmax(levels))])
        hnsw.entry_point = entry
        hnsw.max_level = int(_view(hnsw.levels, self.size)[entry]) - 1

    def wants_rebuild(self) -> bool | None:
        """``True``/``False``: rebuild with/without a graph; ``None``: nothing to do."""
        threshold = self.options.hnsw_threshold
        too_dead = self.dead > self.options.compact_fraction * self.size
        if self.graph is None and self.live >= threshold:
            return True
        if too_dead:
            return self.live >= threshold
        return None

    def rebuild(self, *, graph: bool) -> np.ndarray:
        """Rewrite the shard without dead rows, with or without a graph; returns the kept
        (old) rows in their new order."""
        np = self._np
        keep = np.flatnonzero(self.columns["alive"][:self.size])
        vectors = self.stored()[keep].astype(np.float32)
        columns = [column[keep] for column in self.columns.values()]
        self.graph, self.vectors = None, np.zeros((0, self.dimension), dtype=np.float32)
        self.columns = {name: np.full(0, fill, dtype=dtype)
                        for name, (dtype, fill) in COLUMNS.items()}
        self.size = self.live = 0
        if graph:
            self.graph = new_graph(self.dimension, self.options)
        self._reserve(len(keep))
        self.append(vectors)
        for name, column in zip(COLUMNS, columns, strict=True):
            self.columns[name][:len(keep)] = column
        return keep  # type: ignore[no-any-return]

    def compact_flat(self) -> np.ndarray | None:
        """Drop dead rows of a shard without a graph (cheap); ``None`` if it has none."""
        if self.graph is not None or not self.dead:
            return None
        return self.rebuild(graph=False)

    # --- search ---------------------------------------------------------------------------

    def mask(self, where: RecallFilter, layer_codes: list[int] | None,
             rows: list[int] | None) -> np.ndarray:
        """Which rows match ``where`` (live rows only). ``layer_codes``: the wanted layers
        (``None``: all); ``rows``: the only candidate rows (``where.keys``), if any."""
        np = self._np
        n, columns = self.size, self.columns
        if rows is not None:
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
        else:
            mask = columns["alive"][:n].copy()
        if layer_codes is not None:
            layers = columns["layers"][:n]
            if len(layer_codes) == 1:
                mask &= layers == layer_codes[0]
            else:
                mask &= np.isin(layers, layer_codes)
        mask &= time_mask(columns["starts"][:n], columns["ends"][:n], where)
        return mask  # type: ignore[no-any-return]

    def search(self, query: np.ndarray, k: int, mask: np.ndarray) -> list[tuple[int, float]]:
        """The ``k`` best ``(row, score)`` among the rows in ``mask``, best first."""
        np = self._np
        candidates = int(np.count_nonzero(mask))
        if candidates == 0 or k <= 0:
            return []
        k = min(k, candidates)
        if (self.graph is not None and candidates > self.options.exact_below
                and candidates >= _MIN_GRAPH_SHARE * self.size):
            found = self._graph_search(query, k, mask, candidates)
            if len(found) == k:
                return found
            # The graph reached fewer than k matching rows (a filter that cuts it apart):
            # answer exactly rather than with fewer results.
        return self._exact_search(query, k, mask, candidates)

    def _exact_search(self, query: np.ndarray, k: int, mask: np.ndarray, candidates: int
                      ) -> list[tuple[int, float]]:
        np = self._np
        vectors = self.stored()
        rows = np.flatnonzero(mask)
        if self.graph is None and candidates * 4 > self.size:
            # Most rows match: score them all in place, no gathering.
            every = np.empty(self.size, dtype=np.float32)
            for start in range(0, self.size, _EXACT_BATCH):
                np.matmul(vectors[start:start + _EXACT_BATCH], query,
                          out=every[start:start + _EXACT_BATCH])
            scores = every[rows]
        else:
            scores = np.empty(len(rows), dtype=np.float32)
            for start in range(0, len(rows), _EXACT_BATCH):
                np.matmul(vectors[rows[start:start + _EXACT_BATCH]], query,
                          out=scores[start:start + _EXACT_BATCH])
        return [(int(rows[i]), float(scores[i])) for i in best_first(scores, k)]

    def _graph_search(self, query: np.ndarray, k: int, mask: np.ndarray, candidates: int
                      ) -> list[tuple[int, float]]:
        import faiss

        np = self._np
        ef = max(self.options.ef_search, k)
        if candidates == self.size:  # nothing filtered out, no dead rows
            params = faiss.SearchParametersHNSW(efSearch=ef)
        else:
            # The graph search visits about as many rows with a filter as without, so a
            # filter leaving a share s of the rows finds fewer true neighbours: the
            # candidate list grows by 1/sqrt(s), up to half again.
            ef = min(math.ceil(ef / math.sqrt(candidates / self.size)), ef + ef // 2)
            bitmap = np.packbits(mask, bitorder="little")
            params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorBitmap(bitmap), efSearch=ef)
        scores, rows = self.graph.search(query.reshape(1, -1), k, params=params)
        return [(int(row), float(score))
                for score, row in zip(scores[0], rows[0], strict=True) if row >= 0]


def new_graph(dimension: int, options: FaissOptions) -> Any:
    """An empty HNSW index (inner product) as ``options`` describe it."""
    import faiss

    graph = faiss.IndexHNSWFlat(dimension, options.m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = options.ef_construction
    graph.hnsw.efSearch = options.ef_search
    return graph


def _view(vector: Any, size: int) -> np.ndarray:
    """A numpy view of a faiss ``std::vector`` (no copy)."""
    import faiss

    return faiss.rev_swig_ptr(vector.data(), size)  # type: ignore[no-any-return]


def _graph_add(graph: Any, vectors: np.ndarray) -> None:
    for start in range(0, len(vectors), _GRAPH_BATCH):
        graph.add(vectors[start:start + _GRAPH_BATCH])
