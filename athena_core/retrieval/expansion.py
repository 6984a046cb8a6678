"""Query expansion from the best matches (pseudo-relevance feedback, as in RM3).

A question and the memory that answers it often share few words ("What causes
does John support?" and "I'm passionate about education and infrastructure"),
while the memories about one subject share many. So recall takes the words
that best tell its first few matches apart from the rest of the store, each
weighted by how much of those matches it makes up (term frequency over length)
times its rarity in the store (BM25's inverse document frequency), and runs
the full-text search again with the best of them. Their scores are added to
the query's own, scaled to a share of the best direct match (:func:`expanded_scores`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from athena_core.retrieval.lexical import words
from athena_core.retrieval.stop_words import STOP_WORDS

__all__ = ["expanded_scores", "expansion_words", "word_weights"]

#: Shorter words say too little to expand a query with.
_MIN_LETTERS = 3


def word_weights(texts: Sequence[str], query: str) -> dict[str, float]:
    """Each candidate word's share of each text (count / words in the text), summed over
    ``texts``; stop words, short words and the query's own words are left out."""
    asked = set(words(query))
    weights: dict[str, float] = {}
    for text in texts:
        found = words(text)
        for word, count in Counter(found).items():
            if len(word) >= _MIN_LETTERS and word not in STOP_WORDS and word not in asked:
                weights[word] = weights.get(word, 0.0) + count / len(found)
    return dict(weights)


def expansion_words(weights: Mapping[str, float], counts: Mapping[str, int], total: int, *,
                    limit: int) -> list[str]:
    """The ``limit`` words of highest weight times rarity; ``counts``: memories containing
    each word (words the full-text index does not know are skipped), ``total``: memories."""
    def score(word: str) -> float:
        found = counts.get(word, 0)
        return weights[word] * math.log(1 + (total - found + 0.5) / (found + 0.5))

    known = [word for word in weights if counts.get(word, 0) > 0]
    return sorted(known, key=lambda word: (-score(word), word))[:limit]


def expanded_scores(lexical: Sequence[tuple[int, float]], expansion: Sequence[tuple[int, float]],
                    *, weight: float) -> list[tuple[int, float]]:
    """``lexical`` plus ``expansion`` (both ``(key, score)``) scaled so that its best score is
    ``weight`` times the best of ``lexical``, best first. So expansion lifts a memory by at
    most that share of the best direct match: a long first match, whose own words are all
    among the expansion words, cannot overtake a short exact one."""
    scores = dict(lexical)
    best = max(scores.values(), default=0.0)
    best_expansion = max((score for _, score in expansion), default=0.0)
    if best > 0 and best_expansion > 0:
        scale = weight * best / best_expansion
        for key, score in expansion:
            scores[key] = scores.get(key, 0.0) + scale * score
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)
