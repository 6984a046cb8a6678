"""Summarise one session of episodic memory: what happened, in order, who acted, what
failed and what was decided."""

from collections import Counter
from typing import Any

import athena

_FAILED = {"failure", "failed", "fail", "error"}


def _brief(event: dict[str, Any]) -> dict[str, Any]:
    return {"id": event["id"], "at": event["valid_from"], "kind": event["kind"],
            "actor": event["actor"], "text": event["text"]}


def _line(event: dict[str, Any]) -> str:
    who = f"{event['actor']}: " if event["actor"] else ""
    outcome = f" -> {event['outcome']}" if event["outcome"] else ""
    return f"{event['valid_from'][:16]} [{event['kind']}] {who}{event['text']}{outcome}"


def run(session: str, max_events: int = 500) -> dict[str, Any]:
    """Summarise the events of ``session`` (at most ``max_events``, oldest first)."""
    if max_events < 1:
        raise ValueError("max_events must be at least 1")
    events: list[dict[str, Any]] = []
    cursor = None
    while len(events) <= max_events:
        size = min(500, max_events + 1 - len(events))
        page = athena.episodic.timeline(session=session, limit=size, cursor=cursor)
        events.extend(page)
        if len(page) < size:
            break
        cursor = page[-1]["cursor"]
    truncated = len(events) > max_events
    events = events[:max_events]
    failures = [event for event in events if event["kind"] == "error"
                or (event["outcome"] or "").lower() in _FAILED]
    decisions = [event for event in events if event["kind"] == "decision"]
    actors = Counter(event["actor"] for event in events if event["actor"])
    if events:
        headline = (f"Session {session}: {len(events)} events from "
                    f"{events[0]['valid_from'][:16]} to {events[-1]['valid_from'][:16]}; "
                    f"{len(failures)} failed, {len(decisions)} decisions.")
    else:
        headline = f"Session {session}: no events."
    return {
        "session": session,
        "events": len(events),
        "truncated": truncated,
        "start": events[0]["valid_from"] if events else None,
        "end": events[-1]["valid_from"] if events else None,
        "kinds": dict(Counter(event["kind"] for event in events)),
        "actors": dict(actors.most_common()),
        "failures": [_brief(event) for event in failures],
        "decisions": [_brief(event) for event in decisions],
        "summary": "\n".join([headline, *(_line(event) for event in events)]),
    }
