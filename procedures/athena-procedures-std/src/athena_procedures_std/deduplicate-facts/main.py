"""Find current facts that say the same thing in (nearly) the same words; report them,
or, only when asked to, merge each group into one fact."""

import re
from typing import Any

import athena

_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "is", "are", "was", "were", "of", "to", "be"}


def _words(text: str) -> frozenset[str]:
    return frozenset(word for word in _WORD.findall(text.lower()) if word not in _STOP)


def _similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def run(threshold: float = 0.85, merge: bool = False, limit: int = 1000) -> dict[str, Any]:
    """Groups of current facts (of the newest ``limit``) whose word sets are at least
    ``threshold`` alike (Jaccard). With ``merge=True`` each group becomes one fact."""
    if not 0 < threshold <= 1 or limit < 2:
        raise ValueError("threshold must be in (0, 1] and limit at least 2")
    facts: list[dict[str, Any]] = []
    cursor = None
    while len(facts) < limit:
        size = min(500, limit - len(facts))
        page = athena.semantic.facts(limit=size, cursor=cursor)
        facts.extend(page)
        if len(page) < size:
            break
        cursor = page[-1]["cursor"]
    words = [_words(fact["text"]) for fact in facts]
    parent = list(range(len(facts)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for i in range(len(facts)):
        for j in range(i + 1, len(facts)):
            if _similarity(words[i], words[j]) >= threshold:
                parent[root(j)] = root(i)
    clusters: dict[int, list[int]] = {}
    for index in range(len(facts)):
        clusters.setdefault(root(index), []).append(index)
    groups = []
    merged = 0
    for members in clusters.values():
        if len(members) < 2:
            continue
        keep = max(members, key=lambda i: (facts[i]["importance"], facts[i]["valid_from"]))
        kept = facts[keep]
        others = [facts[i] for i in members if i != keep]
        group = {"keep": {"id": kept["id"], "text": kept["text"]},
                 "duplicates": [{"id": fact["id"], "text": fact["text"],
                                 "similarity": round(_similarity(words[keep],
                                                                 _words(fact["text"])), 3)}
                                for fact in others]}
        if merge:
            metadata: dict[str, Any] = {}
            for fact in [*others, kept]:
                metadata.update(fact["metadata"] or {})
            metadata["merged_from"] = [fact["id"] for fact in others]
            group["keep"]["id"] = athena.semantic.update(
                kept["id"], kept["text"], reason=f"merged {len(others)} duplicates",
                metadata=metadata,
                importance=max(fact["importance"] for fact in [*others, kept]))
            merged += athena.forget(ids=[fact["id"] for fact in others])
        groups.append(group)
    return {"groups": groups, "facts_compared": len(facts), "merged": merged}
