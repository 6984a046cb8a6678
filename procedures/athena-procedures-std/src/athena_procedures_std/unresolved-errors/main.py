"""Errors that nothing resolved yet: no later fix or success in their session."""

from typing import Any

import athena

_FAILED = {"failure", "failed", "fail", "error"}
_FIXED = {"success", "succeeded", "ok", "fixed", "resolved"}


def run(start: str | None = None, end: str | None = None,
        limit: int = 5000) -> list[dict[str, Any]]:
    """Error events in [start, end) with no event of kind ``fix`` or a successful outcome
    after them in the same session (an error outside a session stays open), newest
    first. Reads at most ``limit`` events."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    events: list[dict[str, Any]] = []
    cursor = None
    while len(events) < limit:
        size = min(500, limit - len(events))
        page = athena.episodic.timeline(start=start, end=end, limit=size, cursor=cursor)
        events.extend(page)
        if len(page) < size:
            break
        cursor = page[-1]["cursor"]
    open_errors: dict[str, list[dict[str, Any]]] = {}
    loose: list[dict[str, Any]] = []
    for event in events:
        session = event["session"]
        if event["kind"] == "error" or (event["outcome"] or "").lower() in _FAILED:
            (open_errors.setdefault(session, []) if session else loose).append(event)
        elif session and (event["kind"] == "fix"
                          or (event["outcome"] or "").lower() in _FIXED):
            open_errors.pop(session, None)
    pending = loose + [event for errors in open_errors.values() for event in errors]
    return [{"id": event["id"], "at": event["valid_from"], "text": event["text"],
             "session": event["session"], "actor": event["actor"]}
            for event in sorted(pending, key=lambda e: e["valid_from"], reverse=True)]
