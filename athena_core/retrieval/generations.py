"""Which embedder made the stored vectors, read in the caller's transaction.

A store's vectors belong to one *embedder generation*: an embedder identity and a
number. ``athena_state`` holds three rows: ``embedder`` (the identity of the
current generation), ``embedder_generation`` (its number; absent means 0) and,
while an ``athena reindex`` is under way, ``reindex_target`` (the identity it
re-embeds with, into generation number + 1). Every write of vectors and every
vector index sync reads these rows (one primary-key lookup) in its own
transaction, so a process notices at once when a reindex elsewhere has moved the
store to another embedder.
"""

from __future__ import annotations

import attrs
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from athena_core.errors import ReindexRequiredError
from athena_core.storage.models import StateRow, embedding_table

__all__ = ["EMBEDDER_KEY", "GENERATION_KEY", "REINDEX_KEY", "UNKNOWN_IDENTITY", "EmbedderState"]

EMBEDDER_KEY = "embedder"
GENERATION_KEY = "embedder_generation"
REINDEX_KEY = "reindex_target"
#: Shown (never stored) when vectors exist but no embedder was ever recorded.
UNKNOWN_IDENTITY = "(unknown)"


@attrs.frozen
class EmbedderState:
    """The store's embedder generation as one transaction saw it."""

    #: Identity of the embedder that made the current vectors (``None``: none recorded).
    identity: str | None
    generation: int = 0
    #: Identity a reindex under way re-embeds with (``None``: no reindex under way).
    reindex_target: str | None = None

    @classmethod
    def read(cls, session: Session) -> EmbedderState:
        """The state as ``session``'s transaction sees it."""
        rows = dict(session.execute(select(StateRow.key, StateRow.value).where(
            StateRow.key.in_([EMBEDDER_KEY, GENERATION_KEY, REINDEX_KEY]))).all())
        return cls(rows.get(EMBEDDER_KEY), int(rows.get(GENERATION_KEY, 0)),
                   rows.get(REINDEX_KEY))

    @property
    def named(self) -> str:
        """The identity, or :data:`UNKNOWN_IDENTITY` when none was recorded."""
        return self.identity or UNKNOWN_IDENTITY

    @property
    def table(self) -> Table:
        """The table holding the current generation's vectors."""
        return embedding_table(self.generation)

    def problem_for(self, identity: str) -> str | None:
        """Why an embedder of ``identity`` must not use the stored vectors (``None``: it may)."""
        if self.identity == identity:
            return None
        problem = (f"the stored vectors were made by embedder {self.named!r}, and this "
                   f"Athena embeds with {identity!r}")
        if self.reindex_target == identity:
            problem += "; an `athena reindex` to this embedder is under way"
        return problem

    def refuse_writes(self, identity: str) -> None:
        """Raise :class:`ReindexRequiredError` unless ``identity`` makes the current vectors."""
        problem = self.problem_for(identity)
        if problem is None:
            return
        if self.reindex_target == identity:
            hint = ("Writes with this embedder work once the reindex has finished; reopen "
                    "Athena then (or rerun `athena reindex` if it was stopped).")
        else:
            hint = (f"Configure embedder {self.named!r} again to keep writing, or run "
                    "`athena reindex` with this embedder to re-embed every memory.")
        raise ReindexRequiredError(
            f"Cannot store vectors: {problem}; the two cannot be mixed.", hint=hint)
