"""The sessions of a period, each with its span, size, actors and failures."""

from typing import Any

import athena

_FAILED = {"failure", "failed", "fail", "error"}


def run(start: str | None = None, end: str | None = None,
        limit: int = 5000) -> list[dict[str, Any]]:
    """Sessions with events in [start, end) (ISO-8601; open-ended when omitted), from the
    first ``limit`` events, most recently active first."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    sessions: dict[str, dict[str, Any]] = {}
    cursor = None
    read = 0
    while read < limit:
        size = min(500, limit - read)
        page = athena.episodic.timeline(start=start, end=end, limit=size, cursor=cursor)
        read += len(page)
        for event in page:
            if not event["session"]:
                continue
            entry = sessions.setdefault(event["session"], {
                "session": event["session"], "first": event["valid_from"], "events": 0,
                "actors": [], "failures": 0, "first_event": event["text"]})
            entry["last"] = event["valid_from"]
            entry["last_event"] = event["text"]
            entry["events"] += 1
            if event["actor"] and event["actor"] not in entry["actors"]:
                entry["actors"].append(event["actor"])
            if event["kind"] == "error" or (event["outcome"] or "").lower() in _FAILED:
                entry["failures"] += 1
        if len(page) < size:
            break
        cursor = page[-1]["cursor"]
    return sorted(sessions.values(), key=lambda entry: entry["last"], reverse=True)
