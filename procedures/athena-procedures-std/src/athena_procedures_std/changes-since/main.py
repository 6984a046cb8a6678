"""What changed in memory since a moment: new facts, changed facts (with what they were),
and the events recorded since."""

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import athena

_FAILED = {"failure", "failed", "fail", "error"}


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(since: str, limit: int = 2000) -> dict[str, Any]:
    """Facts written and events that occurred at or after ``since`` (ISO-8601), at most
    ``limit`` of each."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    moment = _when(since)
    new, changed = [], []
    cursor = None
    done = False
    while not done and len(new) + len(changed) < limit:
        page = athena.semantic.facts(limit=500, cursor=cursor)
        for fact in page:
            if _when(fact["valid_from"]) < moment:
                done = True
                break
            if fact["version"] == 1:
                new.append({"id": fact["id"], "text": fact["text"]})
            else:
                versions = athena.semantic.history(fact["id"])
                changed.append({"id": fact["id"], "text": fact["text"],
                                "was": versions[-2]["text"],
                                "reason": versions[-2]["supersede_reason"]})
        done = done or len(page) < 500
        cursor = page[-1]["cursor"] if page else None
    events = athena.episodic.timeline(start=moment.isoformat(), limit=min(limit, 10000))
    return {"since": since, "new_facts": new[:limit], "changed_facts": changed[:limit],
            "events": len(events), "kinds": dict(Counter(e["kind"] for e in events)),
            "failures": [e["text"] for e in events if e["kind"] == "error"
                         or (e["outcome"] or "").lower() in _FAILED]}
