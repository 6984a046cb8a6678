"""Check a statement against memory before relying on it: the facts that support it,
the facts that contradict it, and a verdict."""

import re
from typing import Any

import athena

_NEGATIONS = {"not", "no", "never", "none", "cannot", "without"}
_STOP = {"the", "a", "an", "is", "are", "was", "were", "be", "to", "of", "in", "on", "at",
         "for", "and", "or", "it", "its", "this", "that", "by", "with", "as"}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?")


def _shape(text: str) -> tuple[set[str], set[str], bool]:
    words = _TOKEN.findall(text.lower())
    numbers = {word for word in words if word[0].isdigit()}
    negated = any(word in _NEGATIONS or word.endswith("n't") for word in words)
    content = {word for word in words if word not in numbers and word not in _NEGATIONS
               and word not in _STOP and not word.endswith("n't")}
    return content, numbers, negated


def run(statement: str, k: int = 10, min_overlap: float = 0.5) -> dict[str, Any]:
    """Compare ``statement`` with the ``k`` most relevant current facts: a fact sharing at
    least ``min_overlap`` of its content words (of the smaller set) supports it when
    its numbers and negation agree, and contradicts it when they differ."""
    if not statement.strip() or not 1 <= k <= 100 or not 0 < min_overlap <= 1:
        raise ValueError("give a statement, k from 1 to 100 and min_overlap in (0, 1]")
    words, numbers, negated = _shape(statement)
    supporting, contradicting, related = [], [], []
    for hit in athena.recall(statement, k=k, layers=["semantic"]):
        other_words, other_numbers, other_negated = _shape(hit["text"])
        smaller = min(len(words), len(other_words)) or 1
        overlap = len(words & other_words) / smaller
        item = {"id": hit["id"], "text": hit["text"], "overlap": round(overlap, 3)}
        if overlap < min_overlap:
            related.append(item)
        elif negated != other_negated:
            contradicting.append({**item, "reason": "one of them is negated"})
        elif numbers and other_numbers and numbers != other_numbers:
            contradicting.append({**item, "reason": "different numbers"})
        else:
            supporting.append(item)
    verdict = ("contradicted" if contradicting and not supporting else
               "disputed" if contradicting else
               "supported" if supporting else "unknown")
    return {"statement": statement, "verdict": verdict, "supporting": supporting,
            "contradicting": contradicting, "related": related}
