"""Record a decision in memory and see the earlier decisions about the same subject."""

from typing import Any

import athena


def run(subject: str, decision: str, why: str) -> dict[str, Any]:
    """Remember ``decision`` about ``subject`` (with ``why``) as a fact tagged as a
    decision, and return its ``id`` with the ``earlier`` decisions about the subject
    (their texts, most relevant first)."""
    if not subject.strip() or not decision.strip():
        raise ValueError("subject and decision must not be blank")
    earlier = [hit.text for hit in athena.recall(subject, k=5,
                                                 metadata={"kind": "decision"})]
    memory_id = athena.remember(f"Decision on {subject}: {decision} (because {why})",
                                metadata={"kind": "decision", "subject": subject})
    return {"id": memory_id, "earlier": earlier}
