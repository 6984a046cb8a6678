"""Vector backends (the dense half of recall) and the built-in exact numpy index.

A backend holds, per integer key, a unit vector and what a :class:`RecallFilter`
needs (scope, layer, validity window), and answers cosine top-k searches with
the filter applied inside the search. The database stays the source of truth:
Athena adds, replaces and removes entries as memories change, and rebuilds a
backend from the stored vectors whenever it may be stale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from athena_core.errors import InvalidArgumentError
from athena_core.retrieval.filters import RecallFilter

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ExactVectorIndex", "FilteringVectorBackend", "MemoryPredicate",
           "PersistentVectorBackend", "VectorBackend", "VectorBackendContext", "VectorEntry",
           "best_first", "check_vectors", "entry_vectors", "time_mask"]


@attrs.frozen
class VectorBackendContext:
    """What a vector backend factory receives (``factory(context)``)."""

    #: The embedder's dimension: every vector added or searched has this many floats.
    dimension: int
    #: ``[retrieval.vector_options]`` from the configuration; check them with
    #: :class:`athena_core.options.PluginOptions`.
    options: Mapping[str, Any] = attrs.field(factory=dict)
    #: The data dir, where a backend may save its files.
    data_dir: Path | None = None
    #: SQLAlchemy URL of Athena's own database (a backend may keep its entries there).
    database_url: str | None = None


@attrs.frozen
class VectorEntry:
    """One vector and the attributes searches filter on."""

    #: The memory's internal key (``memories.pk``): what ``search`` returns.
    key: int
    #: A numpy float32 array of shape ``(dimension,)``, of norm 1.
    vector: Any
    #: The memory's scope: a search only ever returns entries of its filter's scope.
    scope: str
    #: The memory's layer (``semantic``, ``episodic``, a plugin's).
    layer: str
    #: When the memory became true or happened.
    valid_from: datetime
    #: When it stopped being true (a superseded fact); ``None`` while current.
    valid_to: datetime | None = None


@runtime_checkable
class VectorBackend(Protocol):
    """What every vector backend provides (see ``athena_core.testing.VectorBackendContract``).

    Athena calls a backend from one thread at a time, and keeps it in step with the
    database: the database is the source of truth, so a backend may lose its entries
    (Athena adds them again) but must never return an entry it was told to remove.
    """

    @property
    def dimension(self) -> int:
        """The dimension it was created for (``VectorBackendContext.dimension``)."""
        ...

    def add(self, entries: Sequence[VectorEntry]) -> None:
        """Insert entries; an existing key is replaced (and moves to the entry's scope).

        Raise :class:`InvalidArgumentError` for a vector of another shape, NaN or
        infinity, before changing anything (:func:`entry_vectors` checks them)."""
        ...

    def remove(self, keys: Iterable[int]) -> None:
        """Remove entries; unknown keys are ignored."""
        ...

    def search(self, vector: np.ndarray, *, k: int, where: RecallFilter
               ) -> list[tuple[int, float]]:
        """The ``k`` best ``(key, cosine similarity)`` pairs matching ``where``, best first.

        Apply every condition of ``where`` (scope, layers, time, keys) *inside* the
        search, never to a top ``k`` found without it; a query vector of another shape,
        NaN or infinity raises :class:`InvalidArgumentError`."""
        ...

    def clear(self) -> None:
        """Remove every entry."""
        ...

    def __len__(self) -> int:
        """How many entries it holds."""
        ...

    def __contains__(self, key: object) -> bool:
        """Whether it holds an entry for ``key``."""
        ...

    def close(self) -> None:
        """Release what it holds (memory, files); called once, when Athena closes."""
        ...


#: Given the SQL expression of a backend's key column, the SQL condition (a correlated
#: ``EXISTS`` on Athena's memory tables) that the key's memory passes a filter.
MemoryPredicate = Callable[[Any], Any]


@runtime_checkable
class FilteringVectorBackend(VectorBackend, Protocol):
    """A backend that can apply, inside its own search, a filter on what its entries do not
    hold (a memory's metadata, an episode's session, actor or kind), given as SQL.

    Optional: for any other backend Athena asks :meth:`VectorBackend.search` for more
    candidates than it needs and keeps those the database says pass the filter (see
    ``athena_core.retrieval.candidates``). Added in 0.2.
    """

    def search_matching(self, vector: np.ndarray, *, k: int, where: RecallFilter,
                        predicate: MemoryPredicate) -> list[tuple[int, float]] | None:
        """The ``k`` best ``(key, cosine similarity)`` pairs matching ``where`` whose key
        satisfies ``predicate``, best first, as :meth:`VectorBackend.search` would give
        them if only those entries existed.

        ``predicate(key_column)`` returns a SQLAlchemy boolean expression to add to the
        ``WHERE`` clause of a statement over the backend's table, in which
        ``key_column`` is that table's key column. It reads Athena's own tables, so
        return ``None`` (Athena then filters candidates itself) when the backend's
        table is not in Athena's database.
        """
        ...


@runtime_checkable
class PersistentVectorBackend(VectorBackend, Protocol):
    """A backend whose entries outlive the process (an index file, a database table).

    Athena saves a *checkpoint* (an opaque string naming the database state the
    entries reflect) with the entries, and asks for it back when it opens: if it
    still names the database's state, only memories written since are loaded;
    otherwise the backend is cleared and rebuilt from the database. A backend
    never has to judge staleness itself, only to keep entries and checkpoint
    together.
    """

    #: True when other processes see the entries at once (a shared database table):
    #: Athena then saves a checkpoint after every change to existing entries too.
    shared: bool

    def load_checkpoint(self) -> str | None:
        """Load the saved entries and return their checkpoint.

        ``None`` when nothing was saved, or when what was saved is unreadable (log a
        warning saying so); the backend is then empty.
        """
        ...

    def save_checkpoint(self, checkpoint: str) -> None:
        """Persist the current entries together with ``checkpoint``, atomically."""
        ...


def check_vectors(vectors: np.ndarray, dimension: int, *, source: str) -> np.ndarray:
    """Return ``vectors`` as C-contiguous float32 rows, or raise on a bad shape, NaN or inf."""
    import numpy as np

    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != dimension:
        raise InvalidArgumentError(
            f"{source} gave vectors of shape {tuple(np.shape(vectors))}; "
            f"expected (n, {dimension}).")
    if not np.isfinite(array).all():
        raise InvalidArgumentError(f"{source} gave vectors containing NaN or infinity.")
    return array


def entry_vectors(entries: Sequence[VectorEntry], dimension: int) -> np.ndarray:
    """The entries' vectors as checked float32 rows, or :class:`InvalidArgumentError`."""
    import numpy as np

    try:
        stacked = np.stack([np.asarray(entry.vector) for entry in entries])
    except ValueError as exc:  # vectors of different shapes
        raise InvalidArgumentError(
            f"vector backend input holds vectors of different shapes ({exc}); expected "
            f"(n, {dimension}).") from exc
    return check_vectors(stacked, dimension, source="vector backend input")


def time_mask(starts: np.ndarray, ends: np.ndarray, where: RecallFilter) -> np.ndarray:
    """Which rows ``where``'s time conditions keep, given each row's validity window as
    epoch seconds (``starts``; ``ends``, infinite while valid): current or valid at
    ``as_of``, and started within ``since``/``until``. Shared by array backends."""
    if where.as_of is None:
        mask = ends == math.inf
    else:
        t = where.as_of.timestamp()
        mask = (starts <= t) & (ends > t)
    if where.since is not None:
        mask &= starts >= where.since.timestamp()
    if where.until is not None:
        mask &= starts < where.until.timestamp()
    kept: np.ndarray = mask
    return kept


def best_first(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest ``scores``, highest first (ties: lower position first)."""
    import numpy as np

    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return top[np.argsort(-scores[top], kind="stable")]


def _epoch(value: datetime | None, default: float) -> float:
    return default if value is None else value.timestamp()


class ExactVectorIndex:
    """Brute-force cosine search over numpy arrays: exact, and fast to ~1M vectors.

    Entries are kept per scope, each scope's vectors in one contiguous array, so a
    search reads only the vectors of the scope it is asked about.
    """

    def __init__(self, dimension: int) -> None:
        import numpy as np

        self._np = np
        self._dimension = dimension
        self._blocks: dict[str, _ScopeBlock] = {}
        self._scope_of: dict[int, str] = {}
        self._layers: dict[str, int] = {}

    @classmethod
    def from_context(cls, context: VectorBackendContext) -> ExactVectorIndex:
        if context.options:
            raise InvalidArgumentError(
                f"the exact vector backend takes no options, got {sorted(context.options)}.")
        return cls(context.dimension)

    @property
    def dimension(self) -> int:
        return self._dimension

    def add(self, entries: Sequence[VectorEntry]) -> None:
        if not entries:
            return
        vectors = entry_vectors(entries, self._dimension)
        # With a repeated key the last entry wins; an entry of another scope moves.
        latest = {entry.key: i for i, entry in enumerate(entries)}
        self.remove([key for key, i in latest.items()
                     if self._scope_of.get(key, entries[i].scope) != entries[i].scope])
        by_scope: dict[str, list[int]] = {}
        for key, i in latest.items():
            by_scope.setdefault(entries[i].scope, []).append(i)
            self._scope_of[key] = entries[i].scope
        for scope, positions in by_scope.items():
            block = self._blocks.get(scope)
            if block is None:
                block = self._blocks[scope] = _ScopeBlock(self._np, self._dimension)
            block.add([entries[i] for i in positions], vectors[positions],
                      [self._layers.setdefault(entries[i].layer, len(self._layers))
                       for i in positions])

    def remove(self, keys: Iterable[int]) -> None:
        for key in keys:
            scope = self._scope_of.pop(key, None)
            if scope is not None:
                self._blocks[scope].remove(key)

    def search(self, vector: np.ndarray, *, k: int, where: RecallFilter
               ) -> list[tuple[int, float]]:
        query = check_vectors(vector, self._dimension, source="query embedding")[0]
        block = self._blocks.get(where.scope)
        if block is None or k <= 0:
            return []
        layers = None if where.layers is None else [
            self._layers[name] for name in where.layers if name in self._layers]
        return block.search(query, k=k, where=where, layers=layers)

    def clear(self) -> None:
        self._blocks.clear()
        self._scope_of.clear()

    def __len__(self) -> int:
        return len(self._scope_of)

    def __contains__(self, key: object) -> bool:
        return key in self._scope_of

    def close(self) -> None:
        self.clear()


class _ScopeBlock:
    """The entries of one scope: vectors and filter columns in parallel arrays."""

    _vectors: Any
    _keys: Any
    _layers: Any
    _starts: Any
    _ends: Any

    def __init__(self, np: Any, dimension: int) -> None:
        self._np = np
        self._dimension = dimension
        self._size = 0
        self._rows: dict[int, int] = {}
        self._allocate(4)  # grows by doubling; a store may hold many small scopes

    def _allocate(self, capacity: int) -> None:
        np = self._np
        old = getattr(self, "_vectors", None)
        vectors = np.zeros((capacity, self._dimension), dtype=np.float32)
        keys = np.zeros(capacity, dtype=np.int64)
        layers = np.zeros(capacity, dtype=np.int16)
        starts = np.zeros(capacity, dtype=np.float64)
        ends = np.full(capacity, math.inf, dtype=np.float64)
        if old is not None:
            n = self._size
            vectors[:n] = self._vectors[:n]
            keys[:n] = self._keys[:n]
            layers[:n] = self._layers[:n]
            starts[:n] = self._starts[:n]
            ends[:n] = self._ends[:n]
        self._vectors, self._keys, self._layers = vectors, keys, layers
        self._starts, self._ends = starts, ends

    def add(self, entries: Sequence[VectorEntry], vectors: np.ndarray,
            layer_codes: list[int]) -> None:
        np = self._np
        needed = self._size + len(entries)
        if needed > len(self._keys):
            self._allocate(max(needed, 2 * len(self._keys)))
        rows = np.empty(len(entries), dtype=np.int64)
        for i, entry in enumerate(entries):
            row = self._rows.get(entry.key)
            if row is None:
                row = self._rows[entry.key] = self._size
                self._size += 1
            rows[i] = row
        self._vectors[rows] = vectors
        self._keys[rows] = [e.key for e in entries]
        self._layers[rows] = layer_codes
        self._starts[rows] = [_epoch(e.valid_from, -math.inf) for e in entries]
        self._ends[rows] = [_epoch(e.valid_to, math.inf) for e in entries]

    def remove(self, key: int) -> None:
        row = self._rows.pop(key)
        last = self._size - 1
        if row != last:  # move the last entry into the hole
            for array in (self._vectors, self._keys, self._layers, self._starts, self._ends):
                array[row] = array[last]
            self._rows[int(self._keys[row])] = row
        self._size = last

    def search(self, query: np.ndarray, *, k: int, where: RecallFilter,
               layers: list[int] | None) -> list[tuple[int, float]]:
        np = self._np
        n = self._size
        if n == 0:
            return []
        mask = time_mask(self._starts[:n], self._ends[:n], where)
        if layers is not None:
            mask &= np.isin(self._layers[:n], layers)
        if where.keys is not None:
            mask &= np.isin(self._keys[:n], np.fromiter(where.keys, dtype=np.int64))
        candidates = int(mask.sum())
        if candidates == 0:
            return []
        scores = self._vectors[:n] @ query
        scores[~mask] = -np.inf
        top = best_first(scores, min(k, candidates))
        return [(int(self._keys[i]), float(scores[i])) for i in top]
