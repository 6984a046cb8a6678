"""Word counts."""

from collections import Counter


def run(text: str, top: int = 3) -> list[list[str | int]]:
    """The ``top`` most common words of ``text`` with their counts."""
    words = [word.strip(".,;:!?").lower() for word in text.split()]
    return [[word, count] for word, count in Counter(w for w in words if w).most_common(top)]
