"""The most frequent words of a text."""

import re
from collections import Counter

_STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have",
    "in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were",
    "will", "with"})


def run(text: str, k: int = 5) -> list[str]:
    """The ``k`` most frequent words of ``text`` (lower-cased, stop words left out),
    most frequent first; words as frequent as each other in order of first use."""
    if k < 1:
        raise ValueError("k must be at least 1")
    words = [word for word in re.findall(r"[a-z0-9']+", text.lower())
             if word not in _STOP_WORDS]
    return [word for word, _count in Counter(words).most_common(k)]
