"""What memory held as true at a moment in the past."""

from typing import Any

import athena


def run(when: str, topic: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The facts valid at ``when`` (ISO-8601): the ``limit`` most relevant to ``topic``,
    or the newest ``limit``; each says whether it is still current."""
    if not 1 <= limit <= 1000:
        raise ValueError("limit must be from 1 to 1000")
    if topic:
        facts = athena.recall(topic, k=limit, layers=["semantic"], as_of=when)
    else:
        facts = athena.semantic.facts(as_of=when, limit=limit)
    return [{"id": fact["id"], "text": fact["text"], "from": fact["valid_from"],
             "to": fact["valid_to"], "still_current": fact["valid_to"] is None}
            for fact in facts]
