"""The facts most related to a given memory (a fact or an event)."""

from typing import Any

import athena


def run(id: str, k: int = 5) -> dict[str, Any]:
    """The memory ``id`` and the ``k`` current facts closest to its text (itself and its
    other versions left out); ``found`` is false for an id that is not in the scope."""
    if not 1 <= k <= 100:
        raise ValueError("k must be from 1 to 100")
    try:
        memory = athena.get(id)
    except athena.errors.MemoryNotFoundError:
        return {"id": id, "found": False, "text": None, "layer": None, "related": []}
    own = {id}
    if memory["layer"] == "semantic":
        own |= {version["id"] for version in athena.semantic.history(id)}
    related = [{"id": hit["id"], "text": hit["text"], "score": round(hit["score"], 4)}
               for hit in athena.recall(memory["text"], k=k + len(own), layers=["semantic"])
               if hit["id"] not in own]
    return {"id": id, "found": True, "text": memory["text"], "layer": memory["layer"],
            "related": related[:k]}
