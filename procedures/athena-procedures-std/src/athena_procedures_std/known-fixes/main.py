"""What fixed an error like this one before: similar past errors, the fix that followed
each in its session, and facts that record fixes."""

from datetime import datetime, timedelta
from typing import Any

import athena

_FIXED = {"success", "succeeded", "ok", "fixed", "resolved"}


def _fix_after(error: dict[str, Any], horizon_hours: int) -> dict[str, Any] | None:
    if not error["session"]:
        return None
    start = datetime.fromisoformat(error["valid_from"])
    for event in athena.episodic.timeline(
            session=error["session"], start=start.isoformat(),
            end=(start + timedelta(hours=horizon_hours)).isoformat(), limit=200):
        if event["id"] != error["id"] and (
                event["kind"] == "fix" or (event["outcome"] or "").lower() in _FIXED):
            return {"text": event["text"], "at": event["valid_from"]}
    return None


def run(error: str, k: int = 5, horizon_hours: int = 24) -> dict[str, Any]:
    """Up to ``k`` past errors most like ``error``, each with the first fix recorded in
    its session within ``horizon_hours``, and up to ``k`` facts of type ``fix``."""
    if not error.strip() or not 1 <= k <= 50 or horizon_hours < 1:
        raise ValueError("give an error, k from 1 to 50 and horizon_hours of at least 1")
    similar = []
    for hit in athena.episodic.search(error, k=k, kind="error"):
        similar.append({"error": hit["text"], "at": hit["valid_from"],
                        "session": hit["session"], "fix": _fix_after(hit, horizon_hours)})
    facts = [hit["text"] for hit in athena.recall(error, k=k, layers=["semantic"],
                                                  metadata={"type": "fix"})]
    return {"similar_errors": similar, "fix_facts": facts,
            "fixed_before": any(item["fix"] for item in similar) or bool(facts)}
