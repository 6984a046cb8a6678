"""Forget the events of one session: show what would go, and delete only when told to."""

from typing import Any

import athena


def run(session: str, confirm: bool = False) -> dict[str, Any]:
    """What forgetting ``session`` removes (its event count, span and first events); with
    ``confirm=True`` the events are deleted for good."""
    if not session.strip():
        raise ValueError("give the session to forget")
    events = athena.episodic.timeline(session=session, limit=10000)
    report: dict[str, Any] = {
        "session": session, "events": len(events),
        "first": events[0]["valid_from"] if events else None,
        "last": events[-1]["valid_from"] if events else None,
        "preview": [event["text"] for event in events[:5]], "forgotten": 0}
    if confirm and events:
        report["forgotten"] = athena.forget(session=session)
    return report
