"""``athena reindex``: re-embed every memory into a new embedder generation.

The new vectors go into the table the current generation does not use
(:func:`~athena_core.storage.models.embedding_table`), so the current vectors stay
whole and searchable, by every process, until the new ones are complete:

1. *Claim*: in one short transaction, name the new embedder in ``reindex_target``
   (after emptying the new generation's table of leftovers, in small batches). A
   reindex with the same embedder already under way, or stopped, is resumed.
2. *Embed*: read the next batch of memories above the last key done, embed them
   with no transaction open, and store their vectors in a short transaction of their
   own. Other processes write meanwhile (memory keys only grow, so what they add is
   picked up by later batches); memories forgotten meanwhile are skipped.
3. *Switch*: in one transaction that finds no memory left to embed, make the new
   generation current (``embedder``, ``embedder_generation``) and bump the index
   epoch, so every process reloads or switches off its vector index.
4. *Clean up*: empty the old generation's table in small batches.

Killed at any point, the store stays usable (the current generation is untouched
until the switch, and complete after it) and rerunning ``athena reindex`` with the
same embedder continues where the killed run stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
from sqlalchemy import Table, delete, func, insert, select

from athena_core.errors import StorageError
from athena_core.retrieval.generations import (
    EMBEDDER_KEY,
    GENERATION_KEY,
    REINDEX_KEY,
    EmbedderState,
)
from athena_core.storage.models import MemoryRow, StateRow, embedding_table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from athena_core.retrieval.index import RecallIndex

__all__ = ["Reindex"]

Progress = Callable[[int, int], None]


@attrs.define
class Reindex:
    """One run of ``athena reindex`` for ``index``'s embedder."""

    index: RecallIndex
    batch: int = 256
    progress: Progress | None = None

    @property
    def identity(self) -> str:
        return self.index.embedder.identity

    def run(self) -> int:
        """Re-embed every memory; return how many the new generation holds."""
        generation = self._claim()
        table = embedding_table(generation)
        with self.index.storage.read() as session:
            total = session.scalar(select(func.count()).select_from(MemoryRow)) or 0
            done = session.scalar(select(func.count()).select_from(table)) or 0
            after = session.scalar(select(func.max(table.c.memory_pk))) or 0
        while True:
            with self.index.storage.read() as session:
                rows = session.execute(
                    select(MemoryRow.pk, MemoryRow.text).where(MemoryRow.pk > after)
                    .order_by(MemoryRow.pk).limit(self.batch)).all()
            if not rows:
                if self._switch(generation, after):
                    break
                continue  # memories were added after the last batch was read
            vectors = self.index.embed([text for _, text in rows])  # no transaction open
            with self.index.storage.write() as session:
                self._still_mine(session, generation)
                keys = [pk for pk, _ in rows]
                alive = set(session.scalars(select(MemoryRow.pk).where(MemoryRow.pk.in_(keys))))
                session.execute(delete(table).where(table.c.memory_pk.in_(keys)))
                stored = [{"memory_pk": pk, "vector": vector.tobytes()}
                          for pk, vector in zip(keys, vectors, strict=True) if pk in alive]
                if stored:
                    session.connection().execute(insert(table), stored)
            after = keys[-1]
            done += len(stored)
            if self.progress:
                self.progress(done, max(total, done))
        self._empty(embedding_table(generation - 1), unless_claimed=True)
        with self.index.storage.read() as session:
            return session.scalar(select(func.count()).select_from(table)) or 0

    def _claim(self) -> int:
        """Name this embedder as the reindex target; return the new generation's number."""
        while True:
            with self.index.storage.write() as session:
                state = EmbedderState.read(session)
                generation = state.generation + 1
                if state.reindex_target == self.identity:
                    return generation  # resume a run that was stopped
                table = embedding_table(generation)
                if session.scalar(select(table.c.memory_pk).limit(1)) is None:
                    session.merge(StateRow(key=REINDEX_KEY, value=self.identity))
                    return generation
            self._empty(table)  # leftovers of an old generation or an abandoned reindex

    def _empty(self, table: Table, *, unless_claimed: bool = False) -> None:
        """Delete every row of ``table``, a batch per transaction (``unless_claimed``: stop
        if a new reindex has claimed it meanwhile; that one empties it before using it)."""
        while True:
            with self.index.storage.write() as session:
                if unless_claimed and EmbedderState.read(session).reindex_target is not None:
                    return
                batch = select(table.c.memory_pk).limit(self.batch).scalar_subquery()
                if not session.execute(delete(table).where(table.c.memory_pk.in_(batch))
                                       ).rowcount:  # type: ignore[attr-defined]
                    return

    def _still_mine(self, session: Session, generation: int) -> None:
        state = EmbedderState.read(session)
        if state.reindex_target != self.identity or state.generation + 1 != generation:
            raise StorageError(
                "Another `athena reindex` took over the store while this one was running "
                f"(it now re-embeds with {state.reindex_target!r}, current embedder "
                f"{state.identity!r}); this one stopped.",
                hint="Let the other reindex finish, or rerun `athena reindex` to take over.")

    def _switch(self, generation: int, after: int) -> bool:
        """Make ``generation`` current if every memory up to ``after`` is all there is."""
        with self.index.storage.write() as session:
            self._still_mine(session, generation)
            if session.scalar(select(MemoryRow.pk).where(MemoryRow.pk > after).limit(1)):
                return False
            session.merge(StateRow(key=EMBEDDER_KEY, value=self.identity))
            session.merge(StateRow(key=GENERATION_KEY, value=str(generation)))
            session.execute(delete(StateRow).where(StateRow.key == REINDEX_KEY))
            self.index.bump_epoch(session)
        return True
