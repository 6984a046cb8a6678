"""Find pairs of current facts that say nearly the same thing but disagree: different
numbers, one negated, or opposite words (enabled/disabled, ...)."""

import re
from itertools import combinations
from typing import Any

import athena

_NEGATIONS = {"not", "no", "never", "none", "nobody", "nothing", "cannot", "without"}
_OPPOSITES = [("enabled", "disabled"), ("enable", "disable"), ("on", "off"),
              ("true", "false"), ("yes", "no"), ("allowed", "forbidden"),
              ("always", "never"), ("open", "closed"), ("up", "down"),
              ("before", "after"), ("public", "private"), ("required", "optional"),
              ("active", "inactive"), ("valid", "invalid"), ("supported", "unsupported"),
              ("include", "exclude"), ("included", "excluded"), ("min", "max"),
              ("minimum", "maximum"), ("more", "less"), ("increase", "decrease")]
_STOP = {"the", "a", "an", "is", "are", "was", "were", "be", "to", "of", "in", "on", "at",
         "for", "and", "or", "it", "its", "this", "that", "we", "our", "by", "with", "as"}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?")


def _shape(text: str) -> tuple[set[str], set[str], bool, set[str]]:
    """(content words, numbers, negated?, every word) of ``text``."""
    words = _TOKEN.findall(text.lower())
    numbers = {word for word in words if word[0].isdigit()}
    negated = any(word in _NEGATIONS or word.endswith("n't") for word in words)
    content = {word for word in words if word not in numbers and word not in _NEGATIONS
               and word not in _STOP and not word.endswith("n't")}
    return content, numbers, negated, set(words)


def _why(a: tuple[set[str], set[str], bool, set[str]],
         b: tuple[set[str], set[str], bool, set[str]]) -> str | None:
    if a[1] and b[1] and a[1] != b[1]:
        return "different numbers: " + ", ".join(sorted(a[1] - b[1])) + " vs " + \
            ", ".join(sorted(b[1] - a[1]))
    if a[2] != b[2]:
        return "one of them is negated"
    for left, right in _OPPOSITES:
        if (left in a[3] and right in b[3] and right not in a[3] and left not in b[3]) or \
                (right in a[3] and left in b[3] and left not in a[3] and right not in b[3]):
            return f"opposite words: {left} / {right}"
    return None


def _overlap(a: set[str], b: set[str]) -> float:
    opposite = {word for pair in _OPPOSITES for word in pair}
    a, b = a - opposite, b - opposite
    return len(a & b) / len(a | b) if a | b else 0.0


def run(topic: str | None = None, min_overlap: float = 0.5,
        limit: int = 500) -> list[dict[str, Any]]:
    """Pairs of current facts (about ``topic``, else the newest ``limit``) that
    share at least ``min_overlap`` of their words but disagree; most similar first. In
    each pair ``a`` is the older fact."""
    if not 0 < min_overlap <= 1 or limit < 2:
        raise ValueError("min_overlap must be in (0, 1] and limit at least 2")
    if topic is not None:
        facts = athena.recall(topic, k=min(limit, 1000), layers=["semantic"])
    else:
        facts, cursor = [], None
        while len(facts) < limit:
            size = min(500, limit - len(facts))
            page = athena.semantic.facts(limit=size, cursor=cursor)
            facts.extend(page)
            if len(page) < size:
                break
            cursor = page[-1]["cursor"]
    shapes = [(fact, _shape(fact["text"])) for fact in facts]
    pairs = []
    shapes.sort(key=lambda pair: (pair[0]["valid_from"], pair[0]["id"]))
    for (a, sa), (b, sb) in combinations(shapes, 2):
        overlap = _overlap(sa[0], sb[0])
        if overlap < min_overlap:
            continue
        reason = _why(sa, sb)
        if reason:
            pairs.append({"a": {"id": a["id"], "text": a["text"]},
                          "b": {"id": b["id"], "text": b["text"]},
                          "overlap": round(overlap, 3), "reason": reason})
    return sorted(pairs, key=lambda pair: -pair["overlap"])
