"""How recall scores a candidate: full text and meaning, its neighbours, its age and weight.

Each retriever returns its best candidates with its own scores. They are put on
one scale and mixed (:func:`fuse`): the full-text (BM25) score divided by the
best one, and the cosine similarity as it is, weighted ``lexical_weight`` and
``1 - lexical_weight``. Unlike reciprocal rank fusion this keeps *how much*
better one candidate is than the next.

Then context (:func:`with_neighbours`): an event in a conversation or work
session is often found through the one before or after it (the question that
the answer follows, the error that the fix follows), so each candidate gains
``neighbour_weight`` times the best score among the episodes recorded within
``neighbour_window`` places of it in the same session; neighbours of the best
candidates become candidates themselves. Then boosts for what the query
names (:func:`with_boosts`), and last, optional recency and importance terms
(:func:`with_recency_and_importance`). :mod:`athena_core.retrieval.ranking`
puts the steps together.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

__all__ = ["fuse", "with_boosts", "with_neighbours", "with_recency_and_importance"]


def fuse(lexical: Sequence[tuple[int, float]], dense: Sequence[tuple[int, float]], *,
         lexical_weight: float) -> dict[int, float]:
    """Mixed scores of every candidate of either list (BM25 scores are higher-is-better)."""
    best = max((score for _, score in lexical), default=0.0)
    scores = {key: (1 - lexical_weight) * max(similarity, 0.0) for key, similarity in dense}
    if best > 0:
        for key, score in lexical:
            scores[key] = scores.get(key, 0.0) + lexical_weight * score / best
    return scores


def with_neighbours(scores: Mapping[int, float], neighbours: Mapping[int, Sequence[int]], *,
                    weight: float) -> dict[int, float]:
    """Each score plus ``weight`` times its best neighbour's (neighbours lists are symmetric)."""
    return {key: score + weight * max((scores.get(n, 0.0) for n in neighbours.get(key, ())),
                                      default=0.0)
            for key, score in scores.items()}


def with_boosts(scores: Mapping[int, float],
                boosts: Sequence[tuple[Collection[int], float]]) -> dict[int, float]:
    """Each score times ``1 + weight`` for every ``(keys, weight)`` of ``boosts`` whose keys
    include it (boosts compound; a negative weight lowers the score)."""
    out = dict(scores)
    for keys, weight in boosts:
        for key in keys:
            if key in out:
                out[key] *= 1 + weight
    return out


def with_recency_and_importance(scores: Mapping[int, float],
                                attributes: Mapping[int, tuple[datetime, float]], *,
                                now: datetime, recency_weight: float, half_life_days: float,
                                importance_weight: float) -> dict[int, float]:
    """Add ``recency_weight * 0.5 ** (age / half-life)`` and ``importance_weight * importance``.

    ``attributes``: each key's ``(valid_from, importance)``; age is measured from
    ``valid_from`` (an event's time, a fact's version) to ``now``.
    """
    out = {}
    for key, score in scores.items():
        when, importance = attributes[key]
        age_days = max((now - when).total_seconds(), 0.0) / 86_400
        out[key] = (score + recency_weight * math.pow(0.5, age_days / half_life_days)
                    + importance_weight * importance)
    return out
