"""The ``faiss`` vector backend: one shard per scope, exact when small, filtered HNSW above.

Every search names one scope, so each scope's entries form a shard of their own
(``athena_faiss._shard``): a small scope is searched exactly with numpy, a large
one through a faiss HNSW graph with the rest of the filter applied inside the
graph search. Vectors are unit length, so inner products are cosine similarities.

The entries are saved with Athena's checkpoint by :meth:`save_checkpoint`
(atomically, see ``athena_faiss._files``) and read back by
:meth:`load_checkpoint`, which refuses, with a warning, anything damaged or
saved for other settings: Athena then rebuilds the index from its database, the
source of truth.

Importing this module imports neither numpy nor faiss; faiss loads when a graph
is first built or loaded.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from athena_core.errors import InvalidArgumentError
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import (
    VectorBackendContext,
    VectorEntry,
    check_vectors,
    entry_vectors,
)

from athena_faiss._files import FORMAT, VERSION, DamagedIndexError, IndexDirectory, Manifest
from athena_faiss._shard import COLUMNS, Shard
from athena_faiss.options import FaissOptions

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FaissVectorIndex"]

log = logging.getLogger("athena.faiss")

#: Where each key lives: ``shard number << _ROW_BITS | row``.
_ROW_BITS = 40
_ROW_MASK = (1 << _ROW_BITS) - 1


def _epoch(value: datetime | None, default: float) -> float:
    return default if value is None else value.timestamp()


class FaissVectorIndex:
    """A persistent vector backend on faiss (``[retrieval] vector_backend = "faiss"``).

    Not thread-safe on its own: Athena's recall index serialises every call.
    """

    #: Other processes see the entries only through saved checkpoints.
    shared = False

    def __init__(self, dimension: int, directory: str | Path,
                 options: FaissOptions | None = None) -> None:
        import numpy as np

        if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1:
            raise InvalidArgumentError(f"faiss vector backend dimension must be a positive "
                                       f"integer, not {dimension!r}.")
        self._np = np
        self._dimension = dimension
        self._options = options or FaissOptions()
        self._directory = IndexDirectory(Path(directory))
        self._reset()

    @classmethod
    def from_context(cls, context: VectorBackendContext) -> FaissVectorIndex:
        """The backend for ``[retrieval] vector_backend = "faiss"`` (options checked here)."""
        options = FaissOptions.from_mapping(context.options)
        directory = options.path
        if directory is None or not directory.is_absolute():
            if context.data_dir is None:
                raise InvalidArgumentError(
                    "the faiss vector backend needs a data dir, or an absolute `path` option, "
                    "to keep its index in.")
            directory = context.data_dir / (directory or Path("vectors", "faiss"))
        return cls(context.dimension, directory, options)

    def _reset(self) -> None:
        #: The checkpoint the saved files hold for exactly these entries (``None``: the
        #: entries changed since they were loaded or saved).
        self._in_sync: str | None = None
        self._shards: list[Shard] = []
        self._shard_of: dict[str, int] = {}  # scope -> shard number
        self._scopes: list[str] = []  # shard number -> scope
        self._places: dict[int, int] = {}  # key -> shard number << _ROW_BITS | row
        self._layers: dict[str, int] = {}

    # --- introspection -------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def options(self) -> FaissOptions:
        return self._options

    @property
    def directory(self) -> Path:
        """Where the index is saved."""
        return self._directory.path

    def graph_scopes(self) -> list[str]:
        """The scopes searched through an HNSW graph (the others are searched exactly)."""
        return [scope for scope, shard in zip(self._scopes, self._shards, strict=True)
                if shard.graph is not None]

    @property
    def dead_rows(self) -> int:
        """Rows of removed or replaced entries not yet compacted away."""
        return sum(shard.dead for shard in self._shards)

    def __len__(self) -> int:
        return len(self._places)

    def __contains__(self, key: object) -> bool:
        return key in self._places

    # --- changes -----------------------------------------------------------------------------

    def add(self, entries: Sequence[VectorEntry]) -> None:
        """Insert entries; an existing key is replaced (of a repeated key, the last wins)."""
        if not entries:
            return
        np = self._np
        vectors = entry_vectors(entries, self._dimension)
        self._in_sync = None
        latest = {entry.key: i for i, entry in enumerate(entries)}
        by_scope: dict[str, list[int]] = {}
        for i in sorted(latest.values()):
            by_scope.setdefault(entries[i].scope, []).append(i)
        touched = set()
        for scope, positions in by_scope.items():
            number = self._shard_number(scope)
            touched.add(number)
            shard = self._shards[number]
            fresh = []
            for i in positions:
                place = self._places.get(entries[i].key)
                if place is not None and place >> _ROW_BITS != number:  # moved to this scope
                    self._kill(place)
                    touched.add(place >> _ROW_BITS)
                    del self._places[entries[i].key]
            stay = [(i, self._places[entries[i].key] & _ROW_MASK) for i in positions
                    if entries[i].key in self._places]
            if stay:  # the same vector again: only the attributes change (a superseded fact)
                rows = np.array([row for _, row in stay])
                same = shard.same_vectors(rows, vectors[[i for i, _ in stay]])
                unchanged = [(i, int(row)) for (i, _), row, keep
                             in zip(stay, rows, same, strict=True) if keep]
                if unchanged:
                    self._set_attributes(shard, [row for _, row in unchanged],
                                         [entries[i] for i, _ in unchanged])
                kept = {i for i, _ in unchanged}
                shard.kill([row for (i, row) in stay if i not in kept])
                fresh = [i for i in positions if i not in kept]
            else:
                fresh = positions
            if fresh:
                rows_added = shard.append(vectors[fresh])
                self._set_attributes(shard, list(rows_added), [entries[i] for i in fresh])
                base = number << _ROW_BITS
                self._places.update((entries[i].key, base | row)
                                    for i, row in zip(fresh, rows_added, strict=True))
        for number in touched:
            self._maintain(number)

    def _shard_number(self, scope: str) -> int:
        number = self._shard_of.get(scope)
        if number is None:
            number = self._shard_of[scope] = len(self._shards)
            self._shards.append(Shard(self._np, self._dimension, self._options))
            self._scopes.append(scope)
        return number

    def _set_attributes(self, shard: Shard, rows: list[int], entries: Sequence[VectorEntry]
                        ) -> None:
        columns = shard.columns
        columns["keys"][rows] = [e.key for e in entries]
        columns["layers"][rows] = [self._layers.setdefault(e.layer, len(self._layers))
                                   for e in entries]
        columns["starts"][rows] = [_epoch(e.valid_from, -math.inf) for e in entries]
        columns["ends"][rows] = [_epoch(e.valid_to, math.inf) for e in entries]

    def _kill(self, place: int) -> None:
        self._shards[place >> _ROW_BITS].kill([place & _ROW_MASK])

    def remove(self, keys: Iterable[int]) -> None:
        """Remove entries; unknown keys are ignored."""
        touched: dict[int, list[int]] = {}
        for key in keys:
            place = self._places.pop(key, None)
            if place is not None:
                touched.setdefault(place >> _ROW_BITS, []).append(place & _ROW_MASK)
        for number, rows in touched.items():
            self._in_sync = None
            self._shards[number].kill(rows)
            self._maintain(number)

    def clear(self) -> None:
        self._reset()

    def close(self) -> None:
        self._reset()

    def _maintain(self, number: int) -> None:
        """Build a shard's graph when it reaches the threshold; drop dead rows when many."""
        shard = self._shards[number]
        graph = shard.wants_rebuild()
        if graph is not None:
            self._rebuild(number, graph=graph)

    def _rebuild(self, number: int, *, graph: bool) -> None:
        self._in_sync = None
        shard = self._shards[number]
        started, dead = time.perf_counter(), shard.dead
        kept = shard.rebuild(graph=graph)
        self._renumber(number, kept)
        if graph:
            log.info("Built the faiss HNSW graph of scope %r: %d entries (%d dead rows dropped) "
                     "in %.1f s.", self._scopes[number], shard.live, dead,
                     time.perf_counter() - started)

    def _renumber(self, number: int, kept: np.ndarray) -> None:
        """Point the keys of a rebuilt shard at their new rows."""
        base = number << _ROW_BITS
        keys = self._shards[number].columns["keys"][:len(kept)].tolist()
        self._places.update((key, base | row) for row, key in enumerate(keys))

    # --- search ----------------------------------------------------------------------------

    def search(self, vector: np.ndarray, *, k: int, where: RecallFilter
               ) -> list[tuple[int, float]]:
        """The ``k`` best ``(key, cosine similarity)`` pairs matching ``where``, best first."""
        query = check_vectors(vector, self._dimension, source="query embedding")[0]
        number = self._shard_of.get(where.scope)
        if number is None or k <= 0:
            return []
        shard = self._shards[number]
        if not shard.live:
            return []
        layer_codes = None
        if where.layers is not None:
            layer_codes = [self._layers[name] for name in where.layers if name in self._layers]
            if not layer_codes:
                return []
        rows = None
        if where.keys is not None:
            places = (self._places.get(key) for key in where.keys)
            rows = [place & _ROW_MASK for place in places
                    if place is not None and place >> _ROW_BITS == number]
            if not rows:
                return []
        mask = shard.mask(where, layer_codes, rows)
        keys = shard.columns["keys"]
        return [(int(keys[row]), score)
                for row, score in shard.search(query, k, mask)]

    # --- persistence -----------------------------------------------------------------------

    def save_checkpoint(self, checkpoint: str) -> None:
        """Save the entries with ``checkpoint``, atomically (see ``athena_faiss._files``).

        Nothing is written when the entries and the checkpoint are those last loaded
        or saved (a process that only searched closes at once).
        """
        if checkpoint == self._in_sync and self._directory.has_manifest():
            return
        for number, shard in enumerate(self._shards):  # cheap without a graph
            kept = shard.compact_flat()
            if kept is not None:
                self._renumber(number, kept)
        directory = self._directory
        shards = [(scope, shard) for scope, shard in zip(self._scopes, self._shards, strict=True)
                  if shard.live]
        with directory.locked(exclusive=True):
            generation = directory.new_generation()
            try:
                files = self._write_payloads(generation, shards)
                directory.write_manifest({
                    "format": FORMAT, "version": VERSION, "dimension": self._dimension,
                    "entries": len(self._places), "columns": list(COLUMNS),
                    "structure": self._options.structure(), "layers": list(self._layers),
                    "shards": [{"scope": scope, "rows": shard.size, "entries": shard.live,
                                "graph": f"graph{number}" if shard.graph is not None else None}
                               for number, (scope, shard) in enumerate(shards)],
                    "checkpoint": checkpoint, "files": files,
                    "saved_at": datetime.now(UTC).isoformat(timespec="seconds")})
            except BaseException:
                directory.discard(generation)
                raise
        self._in_sync = checkpoint

    def _write_payloads(self, generation: str, shards: list[tuple[str, Shard]]
                        ) -> dict[str, Any]:
        directory = self._directory
        files = {"columns": directory.write_payload(
            f"{generation}.columns", lambda out: _write_arrays(
                out, [column[:shard.size] for _, shard in shards
                      for column in shard.columns.values()]))}
        files["vectors"] = directory.write_payload(
            f"{generation}.vectors", lambda out: _write_arrays(
                out, [shard.stored() for _, shard in shards if shard.graph is None]))
        for number, (_, shard) in enumerate(shards):
            if shard.graph is not None:
                files[f"graph{number}"] = directory.write_payload(
                    f"{generation}.graph{number}",
                    lambda out, graph=shard.graph: _write_graph(out, graph))
        return files

    def load_checkpoint(self) -> str | None:
        """Replace the entries with the saved ones and return their checkpoint.

        ``None`` when nothing was saved; also ``None``, after a warning on the
        ``athena.faiss`` logger, when what was saved is damaged or was built for
        other settings (the backend is then empty; Athena rebuilds it from the
        database).
        """
        self._reset()
        try:
            with self._directory.locked(exclusive=False):
                manifest = self._directory.read_manifest()
                if manifest is None:
                    return None
                return self._restore(manifest)
        except (DamagedIndexError, OSError) as exc:
            self._refuse(str(exc))
        except Exception as exc:  # whatever else a damaged file may cause: never fatal
            self._refuse(f"reading it failed ({type(exc).__name__}: {exc})", exc_info=True)
        return None

    def _refuse(self, reason: str, *, exc_info: bool = False) -> None:
        self._reset()
        log.warning("The saved faiss vector index in %s cannot be used: %s. It will be rebuilt "
                    "from the database.", self._directory.path, reason, exc_info=exc_info,
                    extra={"index_path": str(self._directory.path), "reason": reason})

    def _restore(self, manifest: Manifest) -> str:
        np = self._np
        try:
            dimension, entries = int(manifest["dimension"]), int(manifest["entries"])
            checkpoint, files = manifest["checkpoint"], dict(manifest["files"])
            layers, names = list(manifest["layers"]), list(manifest["columns"])
            specs = [(str(s["scope"]), int(s["rows"]), int(s["entries"]), s["graph"])
                     for s in manifest["shards"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise DamagedIndexError(f"its manifest lacks or garbles {exc}") from exc
        if dimension != self._dimension:
            raise DamagedIndexError(f"it holds vectors of dimension {dimension}, not the "
                                    f"{self._dimension} of the configured embedder")
        if names != list(COLUMNS) or not isinstance(checkpoint, str):
            raise DamagedIndexError("its manifest does not describe an index this version "
                                    "of athena-faiss wrote")
        graphs = [graph for *_, graph in specs if graph is not None]
        if graphs and manifest.get("structure") != self._options.structure():
            raise DamagedIndexError(
                f"its graphs were built with {manifest.get('structure')} and the options now "
                f"ask for {self._options.structure()}")
        columns = self._directory.read_payload(
            files.get("columns"), lambda path: _read_arrays(path, len(specs) * len(COLUMNS)))
        flat_count = len(specs) - len(graphs)
        vectors = self._directory.read_payload(
            files.get("vectors"), lambda path: _read_arrays(path, flat_count))
        shards: list[tuple[str, Shard]] = []
        places: dict[int, int] = {}
        flat_vectors = iter(vectors)
        for number, (scope, rows, live, graph_name) in enumerate(specs):
            own = columns[number * len(COLUMNS):(number + 1) * len(COLUMNS)]
            for (name, (dtype, _)), column in zip(COLUMNS.items(), own, strict=True):
                if column.dtype != np.dtype(dtype) or column.shape != (rows,):
                    raise DamagedIndexError(f"its {name} column of scope {scope!r} does not "
                                            f"hold {rows} rows")
            alive = own[-1]
            live_keys = own[0][alive]
            if int(alive.sum()) != live:
                raise DamagedIndexError(f"its entry count of scope {scope!r} is wrong")
            shard = Shard(np, dimension, self._options)
            if graph_name is None:
                flat = next(flat_vectors)
                if flat.dtype != np.float32 or flat.shape != (rows, dimension):
                    raise DamagedIndexError(f"its vectors of scope {scope!r} do not match")
                shard.adopt(own, flat, None)
            else:
                graph = self._directory.read_payload(files.get(str(graph_name)), _read_graph)
                if graph.d != dimension or graph.ntotal != rows:
                    raise DamagedIndexError(f"its graph of scope {scope!r} holds {graph.ntotal} "
                                            f"vectors of dimension {graph.d}, not {rows} of "
                                            f"{dimension}")
                shard.adopt(own, None, graph)
            base = number << _ROW_BITS
            places.update(zip(live_keys.tolist(), (base | np.flatnonzero(alive)).tolist(),
                              strict=True))
            shards.append((scope, shard))
        if len(places) != entries:
            raise DamagedIndexError("its entry count does not match its rows (a key twice?)")
        # Everything checked: adopt it.
        self._shards = [shard for _, shard in shards]
        self._scopes = [scope for scope, _ in shards]
        self._shard_of = {scope: number for number, (scope, _) in enumerate(shards)}
        self._places = places
        self._layers = {name: code for code, name in enumerate(layers)}
        self._in_sync = checkpoint
        for number in range(len(self._shards)):
            self._maintain(number)  # a lowered threshold, say
        return checkpoint


def _write_arrays(out: Any, arrays: list[np.ndarray]) -> None:
    import numpy as np

    for array in arrays:
        np.save(out, np.ascontiguousarray(array), allow_pickle=False)


def _read_arrays(path: Path, count: int) -> list[np.ndarray]:
    import numpy as np

    with path.open("rb") as file:
        arrays = [np.load(file, allow_pickle=False) for _ in range(count)]
        if file.read(1):
            raise DamagedIndexError(f"its file {path.name} holds more than its manifest says")
    return arrays


def _write_graph(out: Any, graph: Any) -> None:
    import faiss

    faiss.write_index(graph, faiss.PyCallbackIOWriter(out.write))


def _read_graph(path: Path) -> Any:
    import faiss

    graph = faiss.read_index(str(path))
    if not isinstance(graph, faiss.IndexHNSW) or graph.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise DamagedIndexError(f"its file {path.name} is not an inner-product HNSW index")
    return graph

