"""A review of a period (a week by default): activity per day, sessions, failures,
decisions, the most important events and the facts learned or changed."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import athena

_FAILED = {"failure", "failed", "fail", "error"}
_MAX_EVENTS = 5000


def _when(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _events(start: datetime, end: datetime) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while len(events) < _MAX_EVENTS:
        page = athena.episodic.timeline(start=start.isoformat(), end=end.isoformat(),
                                        limit=500, cursor=cursor)
        events.extend(page)
        if len(page) < 500:
            break
        cursor = page[-1]["cursor"]
    return events


def _facts(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Current facts whose version was written in [start, end) (newest first)."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = athena.semantic.facts(limit=500, cursor=cursor)
        for fact in page:
            written = _when(fact["valid_from"])
            if written < start:
                return found
            if written < end:
                found.append(fact)
        if len(page) < 500:
            return found
        cursor = page[-1]["cursor"]


def run(end: str | None = None, days: int = 7, top: int = 5) -> dict[str, Any]:
    """Review the ``days`` before ``end`` (an ISO-8601 time; default now)."""
    if days < 1 or top < 0:
        raise ValueError("days must be at least 1 and top at least 0")
    stop = _when(end)
    start = stop - timedelta(days=days)
    events = _events(start, stop)
    failures = [event for event in events if event["kind"] == "error"
                or (event["outcome"] or "").lower() in _FAILED]
    facts = _facts(start, stop)
    important = sorted(events, key=lambda event: -event["importance"])[:top]
    return {
        "start": start.isoformat(),
        "end": stop.isoformat(),
        "events": len(events),
        "truncated": len(events) >= _MAX_EVENTS,
        "per_day": dict(Counter(event["valid_from"][:10] for event in events)),
        "kinds": dict(Counter(event["kind"] for event in events).most_common()),
        "sessions": sorted({event["session"] for event in events if event["session"]}),
        "actors": dict(Counter(event["actor"] for event in events
                               if event["actor"]).most_common()),
        "failures": [{"at": event["valid_from"], "text": event["text"]}
                     for event in failures],
        "decisions": [{"at": event["valid_from"], "text": event["text"]}
                      for event in events if event["kind"] == "decision"],
        "highlights": [event["text"] for event in important],
        "new_facts": [fact["text"] for fact in facts if fact["version"] == 1],
        "changed_facts": [fact["text"] for fact in facts if fact["version"] > 1],
    }
