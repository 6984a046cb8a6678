"""Counts that describe the bound scope's memory: facts, versions, episodes by kind,
actor and session, metadata keys in use, and the time span covered."""

from collections import Counter
from typing import Any

import athena


def _pages(list_page: Any, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` items of a listing, page by page (``list_page(size, cursor)``)."""
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


def run(limit: int = 10000, top: int = 10) -> dict[str, Any]:
    """Statistics over at most ``limit`` current facts and ``limit`` episodes; the ``top``
    most frequent values of each breakdown."""
    if limit < 1 or top < 1:
        raise ValueError("limit and top must be at least 1")
    facts = _pages(lambda size, cursor: athena.semantic.facts(limit=size, cursor=cursor),
                   limit)
    events = _pages(lambda size, cursor: athena.episodic.timeline(limit=size, cursor=cursor),
                    limit)
    keys = Counter(key for item in facts + events for key in (item["metadata"] or {}))
    times = sorted(event["valid_from"] for event in events)
    return {
        "facts": len(facts),
        "changed_facts": sum(1 for fact in facts if fact["version"] > 1),
        "fact_versions": sum(fact["version"] for fact in facts),
        "episodes": len(events),
        "kinds": dict(Counter(e["kind"] for e in events).most_common(top)),
        "actors": dict(Counter(e["actor"] for e in events if e["actor"]).most_common(top)),
        "sessions": dict(Counter(e["session"] for e in events
                                 if e["session"]).most_common(top)),
        "metadata_keys": dict(keys.most_common(top)),
        "first_event": times[0] if times else None,
        "last_event": times[-1] if times else None,
        "mean_fact_importance": round(sum(f["importance"] for f in facts) / len(facts), 3)
        if facts else None,
    }
