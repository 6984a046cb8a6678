"""How a fact changed over time: every version of the facts that best match a query."""

from typing import Any

import athena


def run(query: str, k: int = 1) -> list[dict[str, Any]]:
    """For each of the ``k`` current facts most relevant to ``query``, its versions
    oldest first, with when each held and why it was superseded."""
    if not query.strip() or not 1 <= k <= 50:
        raise ValueError("give a query and k from 1 to 50")
    lineages = []
    for hit in athena.recall(query, k=k, layers=["semantic"]):
        versions = athena.semantic.history(hit["id"])
        lineages.append({
            "current": versions[-1]["text"],
            "id": versions[-1]["id"],
            "changes": len(versions) - 1,
            "versions": [{"version": version["version"], "text": version["text"],
                          "from": version["valid_from"], "to": version["valid_to"],
                          "superseded_because": version["supersede_reason"]}
                         for version in versions]})
    return lineages
