"""The events around one event: what led up to it and what followed, in its session (or
in the whole scope for an event without a session)."""

from typing import Any

import athena


def _brief(event: dict[str, Any]) -> dict[str, Any]:
    return {"id": event["id"], "at": event["valid_from"], "kind": event["kind"],
            "actor": event["actor"], "outcome": event["outcome"], "text": event["text"]}


def run(id: str, before: int = 3, after: int = 3) -> dict[str, Any]:
    """Episode ``id`` with up to ``before`` earlier and ``after`` later events of its
    session, in time order; ``found`` is false for an id that is no episode here."""
    if not 0 <= before <= 100 or not 0 <= after <= 100:
        raise ValueError("before and after must be from 0 to 100")
    try:
        event = athena.get(id)
    except athena.errors.MemoryNotFoundError:
        event = None
    if event is None or event["layer"] != "episodic":
        return {"found": False, "event": None, "before": [], "after": []}
    at = event["valid_from"]
    earlier = athena.episodic.timeline(session=event["session"], end=at, order="desc",
                                       limit=before + 1) if before else []
    later = athena.episodic.timeline(session=event["session"], start=at,
                                     limit=after + 100) if after else []
    earlier = [e for e in earlier if e["id"] != id][:before]
    start = next((i for i, e in enumerate(later) if e["id"] == id), -1)
    later = [e for e in later[start + 1:] if e["id"] != id][:after]
    return {"found": True, "event": _brief(event),
            "before": [_brief(e) for e in reversed(earlier)],
            "after": [_brief(e) for e in later]}
