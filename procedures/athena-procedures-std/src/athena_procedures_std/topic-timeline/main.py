"""A timeline of a topic: the events about it and every version of the facts about it,
in time order."""

from typing import Any

import athena


def run(topic: str, k: int = 50, include_facts: bool = True) -> list[dict[str, Any]]:
    """The ``k`` events most relevant to ``topic`` and (with ``include_facts``) every
    version of the ``k`` most relevant facts, oldest first."""
    if not topic.strip() or not 1 <= k <= 1000:
        raise ValueError("give a topic and k from 1 to 1000")
    entries = [{"at": hit["valid_from"], "type": "event", "text": hit["text"],
                "kind": hit["kind"], "actor": hit["actor"], "session": hit["session"],
                "id": hit["id"]}
               for hit in athena.episodic.search(topic, k=k)]
    if include_facts:
        lineages: set[str] = set()
        for hit in athena.recall(topic, k=k, layers=["semantic"]):
            versions = athena.semantic.history(hit["id"])
            if versions[0]["id"] in lineages:
                continue
            lineages.add(versions[0]["id"])
            previous = None
            for version in versions:
                entries.append({
                    "at": version["valid_from"],
                    "type": "fact" if previous is None else "fact changed",
                    "text": version["text"], "id": version["id"],
                    "was": previous["text"] if previous else None,
                    "reason": previous["supersede_reason"] if previous else None,
                    "current": version["valid_to"] is None})
                previous = version
    return sorted(entries, key=lambda entry: (entry["at"], entry["id"]))
