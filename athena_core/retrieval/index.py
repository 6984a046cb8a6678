"""The recall index: full-text + vectors over every layer's memories, fused.

The database is the source of truth. Vectors are stored in ``embeddings`` in
the same transaction as their memory, and the configured vector backend is
kept in step with it: entries this process writes are applied after commit;
entries other processes write are picked up before each search (memory keys
only grow, so new rows are those above the last key seen); any change to
existing rows (forget, supersede, reindex) bumps an epoch in ``athena_state``,
and the keys each epoch changed are written to ``vector_changes`` in the same
transaction. A process that sees epochs it did not make applies just those keys
(their current rows, or their removal); it rebuilds its backend only when an
epoch left no keys (a reindex) or is older than the changes kept.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from athena_core.config import RetrievalConfig
from athena_core.errors import InvalidArgumentError, ReindexRequiredError
from athena_core.retrieval.candidates import filtered_search
from athena_core.retrieval.embedders import Embedder
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.lexical import DocumentFrequencies, lexical_scores
from athena_core.retrieval.ranking import Ranking, ranked
from athena_core.retrieval.vectors import (
    PersistentVectorBackend,
    VectorBackend,
    VectorEntry,
    check_vectors,
)
from athena_core.storage import Storage
from athena_core.storage.models import EmbeddingRow, MemoryRow, StateRow, VectorChangeRow
from athena_core.storage.queries import in_keys

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RecallIndex"]

log = logging.getLogger("athena.retrieval")

_EMBEDDER_KEY = "embedder"
_EPOCH_KEY = "index_epoch"
#: The largest key ever removed: the database's largest key may fall below a checkpoint's.
_HIGH_WATER_KEY = "index_high_water"
_LOAD_BATCH = 5_000
#: Epochs whose changed keys are kept; a backend further behind is rebuilt.
_CHANGES_KEPT = 1_000
_CHANGED_SINCE_SAVED = "memories changed since it was saved"
#: What a vector backend entry needs from ``memories`` (see :class:`VectorEntry`).
_ENTRY_COLUMNS = (MemoryRow.pk, MemoryRow.scope, MemoryRow.layer, MemoryRow.valid_from,
                  MemoryRow.valid_to)

Progress = Callable[[int, int], None]


class RecallIndex:
    """Hybrid (lexical + dense) search over the memories of one database."""

    def __init__(self, storage: Storage, embedder: Embedder, backend: VectorBackend,
                 settings: RetrievalConfig) -> None:
        if backend.dimension != embedder.dimension:
            raise InvalidArgumentError(
                f"vector backend dimension {backend.dimension} does not match embedder "
                f"{embedder.identity!r} dimension {embedder.dimension}.")
        self.storage = storage
        self.embedder = embedder
        self.backend = backend
        self.settings = settings
        self._lock = threading.RLock()
        self._epoch: int | None = None  # None: the backend must be rebuilt before use
        self._last_key = 0  # every memory up to this key is in the backend
        self._own: set[int] = set()  # keys above it this process added itself
        self._saved_before = False  # whether this store ever had a saved index of the backend
        self._pool: ThreadPoolExecutor | None = None
        self._frequencies = DocumentFrequencies()
        self.stored_identity: str | None = None

    # --- state -------------------------------------------------------------

    def open(self) -> None:
        """Record the embedder on a new store, or note that the stored vectors differ."""
        with self.storage.write() as session:
            stored = session.get(StateRow, _EMBEDDER_KEY)
            if stored is None:
                has_vectors = session.scalar(select(func.count()).select_from(EmbeddingRow))
                if has_vectors:
                    self.stored_identity = "(unknown)"
                    return
                session.add(StateRow(key=_EMBEDDER_KEY, value=self.embedder.identity))
                self.stored_identity = self.embedder.identity
            else:
                self.stored_identity = stored.value

    def warm_up(self) -> None:
        """Do now what the first recall of a process would: load the model and bring the
        vector backend up to date (a long-lived server calls this before its first call)."""
        self.require_current()
        self.sync()
        self.embedder.embed(["warm up"], purpose="query")

    @property
    def needs_reindex(self) -> bool:
        return self.stored_identity != self.embedder.identity

    def require_current(self) -> None:
        if self.needs_reindex:
            raise ReindexRequiredError(
                f"Stored vectors were made by embedder {self.stored_identity!r} but "
                f"{self.embedder.identity!r} is configured; they cannot be mixed.",
                hint="Run `athena reindex` to re-embed every memory (or configure the old "
                     "embedder again).")

    # --- writing -------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors for ``texts``, checked for shape and finiteness."""
        vectors = self.embedder.embed(list(texts), purpose="document")
        return check_vectors(vectors, self.embedder.dimension,
                             source=f"embedder {self.embedder.identity!r}")

    def stage(self, session: Session, rows: Sequence[MemoryRow], vectors: np.ndarray
              ) -> list[VectorEntry]:
        """Store vectors of freshly inserted ``rows`` in the caller's transaction."""
        self.require_current()
        session.connection().execute(insert(EmbeddingRow.__table__),
                        [{"memory_pk": row.pk, "vector": vector.tobytes()}
                         for row, vector in zip(rows, vectors, strict=True)])
        return [_entry(row, vector) for row, vector in zip(rows, vectors, strict=True)]

    def bump_epoch(self, session: Session) -> int:
        """Mark, in the caller's transaction, that existing rows changed."""
        state = session.get(StateRow, _EPOCH_KEY)
        if state is None:
            state = StateRow(key=_EPOCH_KEY, value="0")
            session.add(state)
        state.value = str(int(state.value) + 1)
        epoch = int(state.value)
        session.execute(delete(VectorChangeRow).where(
            VectorChangeRow.epoch <= epoch - _CHANGES_KEPT))
        return epoch

    def note_changed(self, session: Session, epoch: int, keys: Iterable[int]) -> None:
        """Record, in the caller's transaction, the keys that ``epoch`` changed (once each)."""
        rows = [{"epoch": epoch, "memory_pk": key} for key in keys]
        if rows:
            session.execute(insert(VectorChangeRow), rows)

    def note_removed(self, session: Session, keys: Iterable[int]) -> None:
        """Remember, in the caller's transaction, the largest key ever removed."""
        highest = max(keys, default=0)
        state = session.get(StateRow, _HIGH_WATER_KEY)
        if state is None:
            session.add(StateRow(key=_HIGH_WATER_KEY, value=str(highest)))
        elif highest > int(state.value):
            state.value = str(highest)

    def applied(self, added: Sequence[VectorEntry] = (), removed: Iterable[int] = (),
                epoch: int | None = None) -> None:
        """Apply committed changes to the backend (``epoch``: the one the change made)."""
        with self._lock:
            if epoch is not None:
                if self._epoch is None or epoch != self._epoch + 1:
                    # Others changed rows too: the next sync applies every epoch since
                    # the last one seen (this one included) from vector_changes.
                    return
                self._epoch = epoch
            self.backend.remove(removed)
            self.backend.add(added)
            self._own.update(entry.key for entry in added if entry.key > self._last_key)
            if epoch is not None and self._persistent and self.backend.shared:
                self._save_checkpoint()

    def vector_rows(self, session: Session, keys: Sequence[int]) -> list[VectorEntry]:
        """Current backend entries for ``keys``, read back from the database."""
        import numpy as np

        stmt = (select(MemoryRow, EmbeddingRow.vector)
                .join(EmbeddingRow, EmbeddingRow.memory_pk == MemoryRow.pk)
                .where(in_keys(MemoryRow.pk, keys)))
        return [_entry(row, np.frombuffer(blob, dtype=np.float32))
                for row, blob in session.execute(stmt)]

    # --- reading -------------------------------------------------------------

    def sync(self) -> None:
        """Bring the backend up to date with the database."""
        with self._lock:
            with self.storage.read() as session:
                state = {key: value for key, value in session.execute(
                    select(StateRow.key, StateRow.value).where(
                        StateRow.key.in_([_EPOCH_KEY, _HIGH_WATER_KEY, self._saved_key])))}
                self._saved_before = self._saved_key in state
                epoch = int(state.get(_EPOCH_KEY, 0))
                last = max(session.scalar(select(func.max(EmbeddingRow.memory_pk))) or 0,
                           int(state.get(_HIGH_WATER_KEY, 0)))
                changed = self._changes(session, since=self._epoch, until=epoch)
                if changed is None:
                    self._restore_or_rebuild(session, epoch, last)
                else:
                    self._catch_up(session, last, changed, epoch)
            if self._persistent and not self._saved_before and self._epoch is not None:
                # Once a saved index exists, losing it is worth a warning (see below).
                with self.storage.write() as session:
                    session.merge(StateRow(key=self._saved_key, value="1"))
                self._saved_before = True

    @property
    def _saved_key(self) -> str:
        return f"index_saved:{self.settings.vector_backend}"[:64]

    def _catch_up(self, session: Session, last: int, changed: set[int], epoch: int) -> None:
        """Load the memories other processes added since the last sync, and apply the
        existing ones they changed."""
        if last <= self._last_key and not changed:
            return
        if last > self._last_key:
            self._load(session, after=self._last_key, skip=self._own.__contains__)
        self._apply_changes(session, changed)
        self._epoch, self._last_key = epoch, max(last, self._last_key)
        self._own = {key for key in self._own if key > self._last_key}
        if self._persistent and self.backend.shared:
            self._save_checkpoint()

    def _changes(self, session: Session, *, since: int | None, until: int) -> set[int] | None:
        """Keys changed by epochs ``since + 1`` to ``until``; ``None`` when some epoch in
        between recorded none (a reindex) or is no longer kept: then only a rebuild will do."""
        if since is None or since > until:
            return None
        if since == until:
            return set()
        rows = session.execute(select(VectorChangeRow.epoch, VectorChangeRow.memory_pk).where(
            VectorChangeRow.epoch > since, VectorChangeRow.epoch <= until)).all()
        if len({epoch for epoch, _ in rows}) != until - since:
            return None
        return {key for _, key in rows}

    def _apply_changes(self, session: Session, keys: set[int]) -> None:
        """Replace the entries of ``keys`` by their current rows (none if they were removed)."""
        if not keys:
            return
        ordered = sorted(keys)
        log.debug("Applying %d changed memories to the %r vector index.", len(ordered),
                  self.settings.vector_backend)
        self.backend.remove(ordered)
        for start in range(0, len(ordered), _LOAD_BATCH):
            self.backend.add(self.vector_rows(session, ordered[start:start + _LOAD_BATCH]))

    def _restore_or_rebuild(self, session: Session, epoch: int, last: int) -> None:
        """Adopt a persistent backend's saved entries if they match ``epoch``, else rebuild."""
        after, changed = 0, set()
        if self._persistent:
            problem, saved_last, changed = self._checkpoint_problem(session, epoch, last)
            if problem is None:
                after = saved_last
            elif last:
                # Building an index the first time, or after other processes changed
                # memories, is routine; losing a saved one is not.
                routine = not self._saved_before or problem == _CHANGED_SINCE_SAVED
                log.log(logging.INFO if routine else logging.WARNING,
                        "Rebuilding the %r vector index from the database (%d memories): %s.",
                        self.settings.vector_backend, last, problem)
        self._own.clear()
        if not after:
            self.backend.clear()
        # Saved entries may go past their checkpoint's last key (this process's own writes).
        self._load(session, after=after,
                   skip=self.backend.__contains__ if after else lambda key: False)
        self._apply_changes(session, changed)
        self._epoch, self._last_key = epoch, last
        if self._persistent and (not after or self.backend.shared):
            self._save_checkpoint()

    @property
    def _persistent(self) -> bool:
        return isinstance(self.backend, PersistentVectorBackend)

    def _checkpoint_problem(self, session: Session, epoch: int, last: int
                            ) -> tuple[str | None, int, set[int]]:
        """Why the saved entries cannot be used (``None``: they can), their last key, and
        the keys changed since they were saved."""
        assert isinstance(self.backend, PersistentVectorBackend)
        saved = self.backend.load_checkpoint()
        if saved is None:
            return "no saved index, or an unreadable one", 0, set()
        try:
            checkpoint = json.loads(saved)
            identity, saved_epoch = checkpoint["identity"], int(checkpoint["epoch"])
            saved_last = int(checkpoint["last_key"])
        except (ValueError, TypeError, KeyError):
            return f"its checkpoint {saved[:80]!r} is not one Athena wrote", 0, set()
        if identity != self.embedder.identity:
            return f"it holds vectors of embedder {identity!r}", 0, set()
        if saved_last > last:
            return "it holds memories the database does not (a restored database?)", 0, set()
        changed = self._changes(session, since=saved_epoch, until=epoch)
        if changed is None:
            return _CHANGED_SINCE_SAVED, 0, set()
        return None, saved_last, changed

    def _save_checkpoint(self) -> None:
        assert isinstance(self.backend, PersistentVectorBackend)
        self.backend.save_checkpoint(json.dumps(
            {"identity": self.embedder.identity, "epoch": self._epoch,
             "last_key": self._last_key}))

    def _load(self, session: Session, *, after: int, skip: Callable[[int], bool]) -> None:
        import numpy as np

        while True:
            stmt = (select(*_ENTRY_COLUMNS, EmbeddingRow.vector)
                    .join(EmbeddingRow, EmbeddingRow.memory_pk == MemoryRow.pk)
                    .where(MemoryRow.pk > after).order_by(MemoryRow.pk).limit(_LOAD_BATCH))
            batch = [VectorEntry(pk, np.frombuffer(blob, dtype=np.float32), scope, layer,
                                 start, end)
                     for pk, scope, layer, start, end, blob in session.execute(stmt)]
            if not batch:
                return
            self.backend.add([entry for entry in batch if not skip(entry.key)])
            after = batch[-1].key

    def search(self, query: str, *, k: int, where: RecallFilter) -> list[tuple[int, float]]:
        """``(key, score)`` pairs, best first (see :mod:`athena_core.retrieval.ranking`)."""
        self.require_current()
        self.sync()
        settings = self.settings
        pool = max(settings.candidates, k)
        # Full-text search needs no vector: it runs while the query is embedded and the
        # vectors are searched (SQLite, numpy and the models release the GIL).
        lexical_future = self._executor().submit(self._lexical, query, pool, where)
        vector = self.embedder.embed([query], purpose="query")
        vector = check_vectors(vector, self.embedder.dimension,
                               source=f"embedder {self.embedder.identity!r}")[0]
        dense = self._dense(vector, pool, where)
        lexical = lexical_future.result()
        with self.storage.read() as session:
            ranking = Ranking(
                session=session, settings=settings, query=query, vector=vector, where=where,
                search_text=lambda text: lexical_scores(session, text, limit=pool, where=where,
                                                        frequencies=self._frequencies),
                frequencies=self._frequencies)
            return ranked(ranking.scores(lexical, dense), k)

    def _lexical(self, query: str, pool: int, where: RecallFilter) -> list[tuple[int, float]]:
        with self.storage.read() as session:
            return lexical_scores(session, query, limit=pool, where=where,
                                  frequencies=self._frequencies)

    def _dense(self, vector: np.ndarray, pool: int, where: RecallFilter
               ) -> list[tuple[int, float]]:
        found = filtered_search(self.backend, vector, k=pool, where=where,
                                read=self.storage.read, lock=self._lock)
        # A cosine of zero or less means nothing in common: not a candidate.
        return [(key, similarity) for key, similarity in found if similarity > 0]

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="athena-lexical")
        return self._pool

    # --- maintenance -----------------------------------------------------------

    def reindex(self, progress: Progress | None = None, batch: int = 256) -> int:
        """Re-embed every memory with the configured embedder; returns how many."""
        import numpy as np

        with self.storage.read() as session:
            total = session.scalar(select(func.count()).select_from(MemoryRow)) or 0
        done, after = 0, 0
        while True:
            with self.storage.write() as session:
                rows = list(session.execute(
                    select(MemoryRow.pk, MemoryRow.text).where(MemoryRow.pk > after)
                    .order_by(MemoryRow.pk).limit(batch)))
                if not rows:
                    break
                vectors = self.embed([text for _, text in rows])
                keys = [pk for pk, _ in rows]
                session.execute(delete(EmbeddingRow).where(EmbeddingRow.memory_pk.in_(keys)))
                session.add_all(EmbeddingRow(memory_pk=pk, vector=np.asarray(v).tobytes())
                                for pk, v in zip(keys, vectors, strict=True))
                after = keys[-1]
            done += len(rows)
            if progress:
                progress(done, total)
        with self.storage.write() as session:
            session.merge(StateRow(key=_EMBEDDER_KEY, value=self.embedder.identity))
            self.bump_epoch(session)
        with self._lock:
            self.stored_identity = self.embedder.identity
            self._epoch = None
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        with self._lock:
            if self._persistent and self._epoch is not None and not self.needs_reindex:
                try:
                    self._save_checkpoint()
                except Exception:  # the next open rebuilds; closing must not fail
                    log.warning("Could not save the %r vector index; the next start will "
                                "rebuild it.", self.settings.vector_backend, exc_info=True)
            self.backend.close()


def _entry(row: MemoryRow, vector: Any) -> VectorEntry:
    return VectorEntry(key=row.pk, vector=vector, scope=row.scope, layer=row.layer,
                       valid_from=row.valid_from, valid_to=row.valid_to)

