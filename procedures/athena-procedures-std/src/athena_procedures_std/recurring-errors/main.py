"""Group error events by their shape (numbers, ids, paths and quoted values masked) and
report the errors that recur, with what fixed them before."""

import re
from collections import Counter
from typing import Any

import athena

_FAILED = {"failure", "failed", "fail", "error"}
_FIXED = {"success", "succeeded", "ok", "fixed", "resolved"}
_MASKS = [(re.compile(r"(?:[a-z]:)?(?:[/\\][\w.-]+){2,}", re.I), "<path>"),
          (re.compile(r"'[^']*'|\"[^\"]*\""), "<value>"),
          (re.compile(r"\b[0-9a-f]{8,}\b", re.I), "<id>"),
          (re.compile(r"\d+(?:\.\d+)*"), "<n>")]


def signature(text: str) -> str:
    """``text`` lower-cased with its variable parts masked."""
    shape = text.lower()
    for pattern, mask in _MASKS:
        shape = pattern.sub(mask, shape)
    return " ".join(shape.split())


def _failed(event: dict[str, Any]) -> bool:
    return event["kind"] == "error" or (event["outcome"] or "").lower() in _FAILED


def _fixed(event: dict[str, Any]) -> bool:
    return event["kind"] == "fix" or (event["outcome"] or "").lower() in _FIXED


def run(min_count: int = 2, start: str | None = None, end: str | None = None,
        limit: int = 5000) -> list[dict[str, Any]]:
    """Errors in [start, end) whose signature occurs at least ``min_count`` times, most
    frequent first, each with the fixes that followed it in the same session."""
    if min_count < 1 or limit < 1:
        raise ValueError("min_count and limit must be at least 1")
    events: list[dict[str, Any]] = []
    cursor = None
    while len(events) < limit:
        page = athena.episodic.timeline(start=start, end=end, limit=500, cursor=cursor)
        events.extend(page)
        if len(page) < 500:
            break
        cursor = page[-1]["cursor"]
    events = events[:limit]
    groups: dict[str, dict[str, Any]] = {}
    for index, event in enumerate(events):
        if not _failed(event):
            continue
        group = groups.setdefault(signature(event["text"]), {
            "count": 0, "first_seen": event["valid_from"], "sessions": set(),
            "examples": [], "fixes": Counter()})
        group["count"] += 1
        group["last_seen"] = event["valid_from"]
        if event["session"]:
            group["sessions"].add(event["session"])
        if len(group["examples"]) < 3 and event["text"] not in group["examples"]:
            group["examples"].append(event["text"])
        fix = next((later for later in events[index + 1:]
                    if event["session"] and later["session"] == event["session"]
                    and _fixed(later)), None)
        if fix is not None:
            group["fixes"][fix["text"]] += 1
    report = [{"signature": shape, "count": group["count"],
               "first_seen": group["first_seen"], "last_seen": group["last_seen"],
               "sessions": sorted(group["sessions"]), "examples": group["examples"],
               "fixes": [{"text": text, "times": times}
                         for text, times in group["fixes"].most_common()]}
              for shape, group in groups.items() if group["count"] >= min_count]
    return sorted(report, key=lambda item: (-item["count"], item["first_seen"]))
