"""Which candidates' actors a query names: "What did Caroline say about ..." favours what
Caroline said or did over what others said about the same thing."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from athena_core.retrieval.lexical import words
from athena_core.storage.models import EpisodeRow
from athena_core.storage.queries import KEYS, in_keys

__all__ = ["named_actor_keys"]

_episodes = EpisodeRow.__table__
_ACTORS = select(_episodes.c.memory_pk, _episodes.c.actor).where(
    in_keys(_episodes.c.memory_pk, KEYS),
    _episodes.c.actor.is_not(None))


def named_actor_keys(session: Session, keys: Collection[int], query: str) -> set[int]:
    """The ``keys`` of episodes whose actor is named in ``query``: every word of the actor's
    name appears among the query's words (case-insensitively)."""
    asked = set(words(query))
    if not keys or not asked:
        return set()
    named: dict[str, bool] = {}
    found = set()
    for key, actor in session.connection().execute(_ACTORS, {"keys": list(keys)}):
        if actor not in named:
            name = words(actor)
            named[actor] = bool(name) and asked.issuperset(name)
        if named[actor]:
            found.add(key)
    return found
