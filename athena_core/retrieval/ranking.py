"""How one recall ranks its candidates, from the retrievers' lists to the final scores.

1. Full-text and dense scores are mixed (:func:`~athena_core.retrieval.scoring.fuse`).
2. Context: the best candidates' session neighbours join, and every candidate
   gains from its best neighbour (:func:`~athena_core.retrieval.scoring.with_neighbours`).
3. Cues in the query: episodes whose actor it names, and memories from a time it
   names ("in March 2024"), score more (``actor_weight``, ``period_weight``);
   memories that are questions themselves score less (``question_penalty``).
4. Optional recency and importance terms.

Then query expansion (:mod:`athena_core.retrieval.expansion`): the telling
words of the best few candidates are searched for too, their full-text scores
are added to the query's, the full-text candidates get their cosine, and the
steps above run again on the wider list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import attrs
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from athena_core._time import utcnow
from athena_core.config import RetrievalConfig
from athena_core.retrieval.actors import named_actor_keys
from athena_core.retrieval.expansion import expanded_scores, expansion_words, word_weights
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.lexical import DocumentFrequencies, word_counts
from athena_core.retrieval.neighbours import session_neighbours
from athena_core.retrieval.periods import Period, named_periods, within
from athena_core.retrieval.scoring import (
    fuse,
    with_boosts,
    with_neighbours,
    with_recency_and_importance,
)
from athena_core.storage.models import MemoryRow, embedding_table
from athena_core.storage.queries import KEYS, in_keys

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Ranking", "ranked"]

#: The best candidates whose session neighbours join the candidates.
_CONTEXT_OF_BEST = 20
#: Expansion counts the rarity of at most this many words per word it takes.
_SHORTLIST_PER_WORD = 4

Scored = list[tuple[int, float]]
_memories = MemoryRow.__table__
#: Core statements, compiled once: they run on every recall (the keys bound as one value).
_VECTORS = {table.name: select(table.c.memory_pk, table.c.vector).where(
    in_keys(table.c.memory_pk, KEYS)) for table in map(embedding_table, (0, 1))}
_ATTRIBUTES = select(_memories.c.pk, _memories.c.valid_from, _memories.c.importance).where(
    in_keys(_memories.c.pk, KEYS))
_TEXTS = select(_memories.c.text).where(in_keys(_memories.c.pk, KEYS))
_QUESTIONS = select(_memories.c.pk).where(in_keys(_memories.c.pk, KEYS),
                                          func.rtrim(_memories.c.text).like("%?"))


@attrs.define(eq=False)
class Ranking:
    """One query's ranking: its text and vector, its filter, the settings, and how to run
    another full-text search (for the expansion words). What it reads about a memory is
    kept, so the pass after expansion reads only the memories new to it.

    ``vector`` is ``None`` (and so is ``vectors``, the table of the memories' vectors of
    the query's embedder) when recall runs by full text only: no candidate is then
    scored by meaning."""

    session: Session
    settings: RetrievalConfig
    query: str
    vector: np.ndarray | None
    vectors: Table | None
    where: RecallFilter
    search_text: Callable[[str], Scored]
    frequencies: DocumentFrequencies
    _similarity: dict[int, float] = attrs.field(factory=dict, init=False)
    _links: dict[int, set[int]] = attrs.field(factory=dict, init=False)
    _linked: set[int] = attrs.field(factory=set, init=False)
    _named: dict[int, bool] = attrs.field(factory=dict, init=False)
    _questions: dict[int, bool] = attrs.field(factory=dict, init=False)
    _attributes: dict[int, tuple[datetime, float]] = attrs.field(factory=dict, init=False)
    _periods: list[Period] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._periods = named_periods(self.query) if self.settings.period_weight else []

    def scores(self, lexical: Scored, dense: Scored) -> dict[int, float]:
        """The final score of every candidate (see the module's documentation)."""
        self._similarity.update(dense)
        scores = self._scores(lexical, dense)
        words = self._expansion_words(scores)
        if words:
            lexical = expanded_scores(lexical, self.search_text(" ".join(words)),
                                      weight=self.settings.expansion_weight)
            # The words found memories far from the query's own: they are scored by
            # meaning too, not on their full-text score alone.
            found = {key for key, _ in dense}
            dense = [*dense, *self._similarities(
                [key for key, _ in lexical if key not in found]).items()]
            scores = self._scores(lexical, dense)
        return scores

    def _scores(self, lexical: Scored, dense: Scored) -> dict[int, float]:
        settings = self.settings
        scores = fuse(lexical, dense, lexical_weight=settings.lexical_weight)
        if settings.neighbour_weight and settings.neighbour_window:
            scores = self._with_neighbours(scores)
        periods = self._periods
        if periods or settings.recency_weight or settings.importance_weight:
            self._read_attributes(scores)
        boosts = []
        if settings.actor_weight:
            boosts.append((self._named_actors(scores), settings.actor_weight))
        if periods:
            # A memory forgotten since the search has no attributes left: no boost.
            boosts.append(({key for key, (when, _) in self._attributes.items()
                            if key in scores and within(periods, when)}, settings.period_weight))
        if settings.question_penalty:
            boosts.append((self._questions_among(scores), -settings.question_penalty))
        scores = with_boosts(scores, boosts)
        if settings.recency_weight or settings.importance_weight:
            # A memory forgotten since the search has no attributes left: no recency or
            # importance term (recall then leaves it out).
            known = {key: score for key, score in scores.items() if key in self._attributes}
            scores = {**scores, **with_recency_and_importance(
                known, self._attributes, now=utcnow(), recency_weight=settings.recency_weight,
                half_life_days=settings.recency_half_life_days,
                importance_weight=settings.importance_weight)}
        return scores

    def _with_neighbours(self, scores: dict[int, float]) -> dict[int, float]:
        """The best candidates' session neighbours join, scored by meaning alone, and every
        candidate gains from its best neighbour."""
        settings = self.settings
        best = sorted(scores, key=scores.__getitem__, reverse=True)[:_CONTEXT_OF_BEST]
        unseen = [key for key in best if key not in self._linked]
        for key, others in session_neighbours(self.session, unseen,
                                              window=settings.neighbour_window,
                                              where=self.where).items():
            self._links.setdefault(key, set()).update(others)
        self._linked.update(unseen)
        chosen = set(best)
        links = {key: [n for n in others if key in chosen or n in chosen]
                 for key, others in self._links.items()}
        links = {key: others for key, others in links.items() if others}
        joining = [key for key in links if key not in scores]
        if joining:
            scores = dict(scores)
            for key, similarity in self._similarities(joining).items():
                scores[key] = (1 - settings.lexical_weight) * similarity
        return with_neighbours(scores, links, weight=settings.neighbour_weight)

    def _similarities(self, keys: list[int]) -> dict[int, float]:
        """Cosine similarity to the query of each of ``keys`` (negative ones as 0)."""
        import numpy as np

        missing = [key for key in keys if key not in self._similarity]
        if missing and self.vector is not None and self.vectors is not None:
            stmt = _VECTORS[self.vectors.name]
            for key, blob in self.session.connection().execute(stmt, {"keys": missing}):
                self._similarity[key] = max(
                    float(np.frombuffer(blob, dtype=np.float32) @ self.vector), 0.0)
        return {key: self._similarity[key] for key in keys if key in self._similarity}

    def _named_actors(self, keys: Iterable[int]) -> set[int]:
        return _flagged(self._named, keys,
                        lambda missing: named_actor_keys(self.session, missing, self.query))

    def _questions_among(self, keys: Iterable[int]) -> set[int]:
        """The memories among ``keys`` whose text ends with a question mark."""
        return _flagged(self._questions, keys, lambda missing: set(
            self.session.connection().scalars(_QUESTIONS, {"keys": missing})))

    def _read_attributes(self, keys: Iterable[int]) -> None:
        missing = [key for key in keys if key not in self._attributes]
        if missing:
            self._attributes.update(_attributes(self.session, missing))

    def _expansion_words(self, scores: dict[int, float]) -> list[str]:
        settings = self.settings
        if not settings.expansion_weight or not scores:
            return []
        best = sorted(scores, key=scores.__getitem__, reverse=True)[:settings.expansion_sources]
        texts = list(self.session.connection().scalars(_TEXTS, {"keys": best}))
        weights = word_weights(texts, self.query)
        # Only the words most present in the best matches are looked up in the index: what
        # it costs to count them is bounded however long those memories are.
        shortlist = sorted(weights, key=lambda word: (-weights[word], word))[
            :_SHORTLIST_PER_WORD * settings.expansion_words]
        weights = {word: weights[word] for word in shortlist}
        counts, total = word_counts(self.session, sorted(weights), self.frequencies)
        return expansion_words(weights, counts, total, limit=settings.expansion_words)


def _flagged(cache: dict[int, bool], keys: Iterable[int],
             look_up: Callable[[list[int]], set[int]]) -> set[int]:
    """The ``keys`` flagged in ``cache``; those not in it yet are looked up, all at once."""
    keys = list(keys)
    missing = [key for key in keys if key not in cache]
    if missing:
        found = look_up(missing)
        cache.update((key, key in found) for key in missing)
    return {key for key in keys if cache[key]}


def _attributes(session: Session, keys: list[int]) -> dict[int, tuple[datetime, float]]:
    """``(valid_from, importance)`` of each key's memory."""
    return {pk: (when if when.tzinfo else when.replace(tzinfo=UTC), importance)
            for pk, when, importance in session.connection().execute(_ATTRIBUTES,
                                                                     {"keys": keys})}


def ranked(scores: dict[int, float], k: int) -> list[tuple[int, float]]:
    """The ``k`` best ``(key, score)`` pairs with a positive score, best first."""
    order = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return [(key, score) for key, score in order[:k] if score > 0]
