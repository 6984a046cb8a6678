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

Every write of vectors and every sync also reads the store's embedder generation
(:mod:`athena_core.retrieval.generations`) in its own transaction: a process whose
embedder no longer makes the current vectors refuses to write vectors
(``ReindexRequiredError``) and recalls by full text only, saying why in a warning;
it never loads, or scores against, vectors of another embedder.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from athena_core.config import RetrievalConfig
from athena_core.errors import InvalidArgumentError
from athena_core.retrieval.candidates import filtered_search
from athena_core.retrieval.embedders import Embedder
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.generations import (
    EMBEDDER_KEY,
    UNKNOWN_IDENTITY,
    EmbedderState,
)
from athena_core.retrieval.lexical import DocumentFrequencies, lexical_scores
from athena_core.retrieval.ranking import Ranking, ranked
from athena_core.retrieval.vectors import (
    PersistentVectorBackend,
    VectorBackend,
    VectorEntry,
    check_vectors,
)
from athena_core.storage import Storage
from athena_core.storage.models import (
    MemoryRow,
    StateRow,
    VectorChangeRow,
    embedding_table,
)
from athena_core.storage.queries import in_keys

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RecallIndex"]

log = logging.getLogger("athena.retrieval")

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
#: Where a write transaction keeps the embedder state it checked (once per transaction).
_CHECKED = "athena_embedder_state"

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
        #: The store's embedder generation, as last read (every sync and write reads it).
        self.stored = EmbedderState(None)
        self._generation: int | None = None  # the generation whose vectors the backend holds
        self._table: Table = embedding_table(0)  # and the table they come from
        #: Why recall runs without vectors in this process (``None``: it does not).
        self.dense_problem: str | None = None
        self._warned: str | None = None

    # --- state -------------------------------------------------------------

    def open(self) -> None:
        """Record the embedder on a new store, or note that the stored vectors differ."""
        with self.storage.write() as session:
            state = EmbedderState.read(session)
            if state.identity is None:
                if session.scalar(select(state.table.c.memory_pk).limit(1)) is not None:
                    state = attrs.evolve(state, identity=UNKNOWN_IDENTITY)
                else:
                    session.add(StateRow(key=EMBEDDER_KEY, value=self.embedder.identity))
                    state = attrs.evolve(state, identity=self.embedder.identity)
            self.stored = state

    @property
    def stored_identity(self) -> str:
        """The identity of the embedder that made the stored vectors, as last read
        (``(unknown)`` when vectors exist but none was recorded)."""
        return self.stored.named

    def warm_up(self) -> None:
        """Do now what the first recall of a process would: load the model and bring the
        vector backend up to date (a long-lived server calls this before its first call)."""
        self.require_current()
        self.sync()
        self.embedder.embed(["warm up"], purpose="query")

    @property
    def needs_reindex(self) -> bool:
        """Whether the stored vectors were made by another embedder (as last read)."""
        return self.stored.problem_for(self.embedder.identity) is not None

    def require_current(self) -> None:
        """Raise :class:`ReindexRequiredError` unless this embedder makes the stored vectors
        (read again when the last reading said otherwise)."""
        if self.needs_reindex:
            with self.storage.read() as session:
                self.stored = EmbedderState.read(session)
        self.stored.refuse_writes(self.embedder.identity)

    def _writable(self, session: Session) -> EmbedderState:
        """The embedder state in the write transaction of ``session``, checked once per
        transaction: ``ReindexRequiredError`` if this embedder no longer makes the vectors."""
        state = session.info.get(_CHECKED)
        if not isinstance(state, EmbedderState):
            state = EmbedderState.read(session)
            self.stored = state
            state.refuse_writes(self.embedder.identity)
            session.info[_CHECKED] = state
        return state

    # --- writing -------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors for ``texts``, checked for shape and finiteness."""
        vectors = self.embedder.embed(list(texts), purpose="document")
        return check_vectors(vectors, self.embedder.dimension,
                             source=f"embedder {self.embedder.identity!r}")

    def stage(self, session: Session, rows: Sequence[MemoryRow], vectors: np.ndarray
              ) -> list[VectorEntry]:
        """Store vectors of freshly inserted ``rows`` in the caller's transaction, if this
        embedder still makes the store's vectors (else ``ReindexRequiredError``)."""
        table = self._writable(session).table
        session.connection().execute(insert(table),
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
            if epoch is not None and self._shared:
                self._save_checkpoint()

    def changed_rows(self, session: Session, keys: Sequence[int]) -> list[VectorEntry]:
        """Backend entries for existing ``keys`` changed in the caller's write transaction
        (none when this embedder no longer makes the store's vectors: its backend is off)."""
        state = EmbedderState.read(session)
        if state.problem_for(self.embedder.identity) is not None:
            return []
        return self.vector_rows(session, keys, state.table)

    def vector_rows(self, session: Session, keys: Sequence[int], table: Table | None = None
                    ) -> list[VectorEntry]:
        """Current backend entries for ``keys``, read back from the database (from
        ``table``; by default the one the backend was loaded from)."""
        import numpy as np

        table = self._table if table is None else table
        stmt = (select(MemoryRow, table.c.vector)
                .join(table, table.c.memory_pk == MemoryRow.pk)
                .where(in_keys(MemoryRow.pk, keys)))
        return [_entry(row, np.frombuffer(blob, dtype=np.float32))
                for row, blob in session.execute(stmt)]

    # --- reading -------------------------------------------------------------

    def sync(self) -> None:
        """Bring the backend up to date with the database (or switch it off, with
        :attr:`dense_problem` saying why, when this embedder no longer makes the vectors)."""
        with self._lock:
            with self.storage.read() as session:
                self.stored = stored = EmbedderState.read(session)
                problem = stored.problem_for(self.embedder.identity)
                if problem is not None:
                    self._switch_off(problem)
                    return
                self.dense_problem = None
                if stored.generation != self._generation:
                    self._epoch = None  # vectors of another generation: rebuild
                    self._generation, self._table = stored.generation, stored.table
                state = {key: value for key, value in session.execute(
                    select(StateRow.key, StateRow.value).where(
                        StateRow.key.in_([_EPOCH_KEY, _HIGH_WATER_KEY, self._saved_key])))}
                self._saved_before = self._saved_key in state
                epoch = int(state.get(_EPOCH_KEY, 0))
                last = max(session.scalar(select(func.max(self._table.c.memory_pk))) or 0,
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

    def _switch_off(self, problem: str) -> None:
        """Stop using the backend: its entries are not comparable with this embedder's.

        Entries only this process sees are dropped; a shared backend's (a database
        table other processes search) are left to the processes whose embedder made them.
        """
        if self.dense_problem is None:
            log.info("Vector search is off in this process: %s.", problem)
        self.dense_problem = problem
        backend = self.backend
        if not (isinstance(backend, PersistentVectorBackend) and backend.shared):
            backend.clear()
        self._epoch, self._generation, self._last_key = None, None, 0
        self._own.clear()

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
        if self._shared:
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
        after, changed = 0, set[int]()
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
        if self._persistent and (not after or self._shared):
            self._save_checkpoint()

    @property
    def _persistent(self) -> bool:
        return isinstance(self.backend, PersistentVectorBackend)

    @property
    def _shared(self) -> bool:
        """A persistent backend whose entries other processes see at once."""
        return isinstance(self.backend, PersistentVectorBackend) and self.backend.shared

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
            table = self._table
            stmt = (select(*_ENTRY_COLUMNS, table.c.vector)
                    .join(table, table.c.memory_pk == MemoryRow.pk)
                    .where(MemoryRow.pk > after).order_by(MemoryRow.pk).limit(_LOAD_BATCH))
            batch = [VectorEntry(pk, np.frombuffer(blob, dtype=np.float32), scope, layer,
                                 start, end)
                     for pk, scope, layer, start, end, blob in session.execute(stmt)]
            if not batch:
                return
            self.backend.add([entry for entry in batch if not skip(entry.key)])
            after = batch[-1].key

    def search(self, query: str, *, k: int, where: RecallFilter) -> list[tuple[int, float]]:
        """``(key, score)`` pairs, best first (see :mod:`athena_core.retrieval.ranking`).

        When this embedder no longer makes the stored vectors (a reindex elsewhere, or
        another embedder configured), the search is full-text only and a warning says why.
        """
        self.sync()
        settings = self.settings
        pool = max(settings.candidates, k)
        # Full-text search needs no vector: it runs while the query is embedded and the
        # vectors are searched (SQLite, numpy and the models release the GIL).
        lexical_future = self._executor().submit(self._lexical, query, pool, where)
        vector, dense, generation = None, [], self._generation
        problem = self.dense_problem
        if problem is None:
            vector = self.embedder.embed([query], purpose="query")
            vector = check_vectors(vector, self.embedder.dimension,
                                   source=f"embedder {self.embedder.identity!r}")[0]
            dense = self._dense(vector, pool, where)
        else:
            self._warn_full_text_only(problem)
        lexical = lexical_future.result()
        with self.storage.read() as session:
            # Candidates' vectors are read in this transaction: only if it still sees the
            # generation the query was embedded for.
            current = EmbedderState.read(session)
            same = (vector is not None and current.generation == generation
                    and current.problem_for(self.embedder.identity) is None)
            ranking = Ranking(
                session=session, settings=settings, query=query,
                vector=vector if same else None, vectors=current.table if same else None,
                where=where,
                search_text=lambda text: lexical_scores(session, text, limit=pool, where=where,
                                                        frequencies=self._frequencies),
                frequencies=self._frequencies)
            return ranked(ranking.scores(lexical, dense), k)

    def _warn_full_text_only(self, problem: str) -> None:
        if self._warned != problem:
            self._warned = problem
            log.warning("Recall uses full-text search only: %s. Run `athena reindex` with "
                        "this embedder, or configure the store's embedder, to search by "
                        "meaning again.", problem)

    def _lexical(self, query: str, pool: int, where: RecallFilter) -> list[tuple[int, float]]:
        with self.storage.read() as session:
            return lexical_scores(session, query, limit=pool, where=where,
                                  frequencies=self._frequencies)

    def _dense(self, vector: np.ndarray, pool: int, where: RecallFilter
               ) -> list[tuple[int, float]]:
        found = filtered_search(self.backend, vector, k=pool, where=where,
                                read=self.storage.read, lock=self._lock,
                                vector_table=self._query_vectors)
        # A cosine of zero or less means nothing in common: not a candidate.
        return [(key, similarity) for key, similarity in found if similarity > 0]

    def _query_vectors(self, session: Session) -> Table | None:
        """In ``session``: the table of the vectors this process's queries are embedded
        for, if the store still keeps them (not after a reindex elsewhere)."""
        current = EmbedderState.read(session)
        if current.generation != self._generation \
                or current.problem_for(self.embedder.identity) is not None:
            return None
        return current.table

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="athena-lexical")
        return self._pool

    # --- maintenance -----------------------------------------------------------

    def reindex(self, progress: Progress | None = None, batch: int = 256) -> int:
        """Re-embed every memory with this embedder (see :mod:`athena_core.retrieval.reindex`);
        returns how many memories the new generation holds."""
        from athena_core.retrieval.reindex import Reindex

        count = Reindex(self, batch=batch, progress=progress).run()
        with self._lock:
            self._epoch = None  # the next sync loads the new generation
        return count

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

