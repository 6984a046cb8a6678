"""Turn the lasting parts of a session into facts: its decisions, lessons and stated facts
become semantic memories that point back to their episode; running it again adds
nothing."""

from typing import Any

import athena

_PREFIX = {"decision": "Decision: ", "lesson": "Lesson: ", "fact": ""}


def run(session: str, kinds: list[str] | None = None, min_importance: float = 0.0,
        dry_run: bool = False) -> dict[str, Any]:
    """Remember a fact for each event of ``session`` whose kind is in ``kinds`` (default
    decision, lesson, fact) and whose importance is at least ``min_importance``, unless
    one was already made from it. ``dry_run`` only says what would be made."""
    wanted = kinds or list(_PREFIX)
    made, skipped = [], 0
    for event in athena.episodic.timeline(session=session, limit=10000):
        if event["kind"] not in wanted or event["importance"] < min_importance:
            continue
        if athena.semantic.facts(metadata={"source_episode": event["id"]}, limit=1):
            skipped += 1
            continue
        text = _PREFIX.get(event["kind"], f"{event['kind'].capitalize()}: ") + event["text"]
        entry = {"episode": event["id"], "text": text, "id": None}
        if not dry_run:
            entry["id"] = athena.remember(
                text, importance=event["importance"],
                metadata={"source_episode": event["id"], "session": session,
                          "kind": event["kind"], "occurred_at": event["valid_from"]})
        made.append(entry)
    return {"session": session, "facts": made, "already_consolidated": skipped,
            "dry_run": dry_run}
