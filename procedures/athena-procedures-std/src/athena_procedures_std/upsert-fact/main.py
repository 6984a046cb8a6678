"""Keep one current fact per key: remember it the first time, supersede it when its text
changes, and leave it alone when nothing changed."""

from typing import Any

import athena


def run(key: str, text: str, reason: str | None = None,
        importance: float = 0.5) -> dict[str, Any]:
    """Set the fact for ``key`` (stored in its metadata) to ``text``; returns its id and
    ``action``: ``created``, ``updated`` or ``unchanged``."""
    if not key.strip() or not text.strip():
        raise ValueError("give a key and a text")
    current = athena.semantic.facts(metadata={"key": key}, limit=2)
    if len(current) > 1:
        raise ValueError("more than one current fact has this key; merge them first")
    if not current:
        return {"id": athena.remember(text, metadata={"key": key}, importance=importance),
                "action": "created", "previous": None}
    fact = current[0]
    if fact["text"] == text:
        return {"id": fact["id"], "action": "unchanged", "previous": None}
    new = athena.semantic.update(fact["id"], text, reason=reason or f"{key} changed")
    return {"id": new, "action": "updated", "previous": fact["text"]}
