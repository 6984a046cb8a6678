"""The decisions recorded in a period (episodes of kind ``decision``), optionally only
those about a topic, with their rationale and alternatives."""

import re
from typing import Any

import athena

_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "of", "to", "in", "on", "for", "and", "or", "is", "about"}


def _words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _STOP}


def run(start: str | None = None, end: str | None = None, topic: str | None = None,
        limit: int = 200) -> list[dict[str, Any]]:
    """Decisions in [start, end) (ISO-8601 times, open-ended when omitted), oldest first;
    with ``topic``, those whose text or rationale shares a word with it."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    wanted = _words(topic) if topic else set()
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < limit:
        page = athena.episodic.timeline(start=start, end=end, kind="decision", limit=500,
                                        cursor=cursor)
        for event in page:
            context = event["metadata"] or {}
            rationale = context.get("rationale") or context.get("why")
            if wanted and not wanted & _words(event["text"] + " " + str(rationale or "")):
                continue
            found.append({"id": event["id"], "at": event["valid_from"],
                          "decision": event["text"], "actor": event["actor"],
                          "session": event["session"], "rationale": rationale,
                          "alternatives": list(context.get("alternatives") or [])})
        if len(page) < 500:
            break
        cursor = page[-1]["cursor"]
    return found[:limit]
