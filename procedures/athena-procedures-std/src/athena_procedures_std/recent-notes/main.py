"""The memories about a topic from the last few days, newest first."""

from datetime import UTC, datetime, timedelta

import athena


def run(topic: str, days: int = 7, limit: int = 10) -> list[dict[str, str]]:
    """What is remembered about ``topic`` from the last ``days`` days: the ``limit`` most
    relevant such memories, newest first.

    A memory's time is when it became true (``valid_from``): when an event happened, when
    a fact was remembered. Each item has the memory's ``id``, ``layer``, ``when`` (ISO
    8601, UTC) and ``text``.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    cutoff = datetime.now(UTC) - timedelta(days=days)
    recent = []
    for hit in athena.recall(topic, k=min(limit * 5, 100)):
        when = datetime.fromisoformat(hit.valid_from)
        if when >= cutoff:
            recent.append({"id": hit.id, "layer": hit.layer, "when": when.isoformat(),
                           "text": hit.text})
    recent = recent[:limit]  # the most relevant, as recall ranked them
    recent.sort(key=_newest_first)
    return recent


def _newest_first(item: dict[str, str]) -> tuple[float, str]:
    return (-datetime.fromisoformat(item["when"]).timestamp(), item["id"])
