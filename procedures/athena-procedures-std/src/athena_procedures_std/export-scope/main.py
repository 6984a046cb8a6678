"""Export the memories of the bound scope as one JSON document: current facts (optionally
with their earlier versions) and episodes."""

from datetime import UTC, datetime
from typing import Any

import athena

FORMAT = "athena-std-export/1"


def _pages(list_page: Any, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while len(items) < limit:
        size = min(1000, limit - len(items))
        page = list_page(size, cursor)
        items.extend(page)
        if len(page) < size:
            break
        cursor = page[-1]["cursor"]
    return items


def _fact(fact: dict[str, Any]) -> dict[str, Any]:
    return {"text": fact["text"], "metadata": fact["metadata"],
            "importance": fact["importance"], "written": fact["valid_from"],
            "version": fact["version"], "lineage_id": fact["lineage_id"],
            "supersede_reason": fact["supersede_reason"]}


def run(include_facts: bool = True, include_history: bool = False,
        include_episodes: bool = True, limit: int = 10000) -> dict[str, Any]:
    """Up to ``limit`` facts and ``limit`` episodes; ``include_history`` adds each
    changed fact's earlier versions (oldest first)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    facts: list[dict[str, Any]] = []
    if include_facts:
        for fact in _pages(lambda size, cursor: athena.semantic.facts(
                limit=size, cursor=cursor), limit):
            entry = _fact(fact)
            if include_history and fact["version"] > 1:
                entry["history"] = [_fact(old) for old in athena.semantic.history(fact["id"])
                                    if old["id"] != fact["id"]]
            facts.append(entry)
    episodes = []
    if include_episodes:
        episodes = [{"text": event["text"], "occurred_at": event["valid_from"],
                     "session": event["session"], "kind": event["kind"],
                     "outcome": event["outcome"], "actor": event["actor"],
                     "context": event["metadata"], "importance": event["importance"]}
                    for event in _pages(lambda size, cursor: athena.episodic.timeline(
                        limit=size, cursor=cursor), limit)]
    return {"format": FORMAT, "exported_at": datetime.now(UTC).isoformat(),
            "counts": {"facts": len(facts), "episodes": len(episodes)},
            "facts": facts, "episodes": episodes}
