"""Import a document written by std/export-scope into the bound scope."""

from typing import Any

import athena

FORMAT = "athena-std-export/1"


def run(data: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    """Remember each fact of ``data`` whose text is not already a current fact, and record
    each episode (recording the same episode again is a no-op). With ``dry_run`` nothing
    is written; the counts say what would be."""
    if data.get("format") != FORMAT:
        raise ValueError(f"data is not an {FORMAT} document")
    existing: set[str] = set()
    cursor = None
    while True:
        page = athena.semantic.facts(limit=1000, cursor=cursor)
        existing.update(fact["text"] for fact in page)
        if len(page) < 1000:
            break
        cursor = page[-1]["cursor"]
    facts_added = facts_skipped = episodes = 0
    for fact in data.get("facts", []):
        if fact["text"] in existing:
            facts_skipped += 1
            continue
        existing.add(fact["text"])
        facts_added += 1
        if not dry_run:
            athena.remember(fact["text"], metadata=fact.get("metadata") or None,
                            importance=fact.get("importance", 0.5))
    for event in data.get("episodes", []):
        episodes += 1
        if not dry_run:
            athena.episodic.record(
                event["text"], occurred_at=event.get("occurred_at"),
                session=event.get("session"), kind=event.get("kind") or "observation",
                outcome=event.get("outcome"), context=event.get("context") or None,
                actor=event.get("actor"), importance=event.get("importance", 0.5))
    return {"facts_added": facts_added, "facts_skipped": facts_skipped,
            "episodes_recorded": episodes, "dry_run": dry_run}
