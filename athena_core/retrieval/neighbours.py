"""Episodes recorded next to each other in the same session (see ``scoring.with_neighbours``)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from athena_core.retrieval.filters import RecallFilter
from athena_core.storage.models import EpisodeRow, MemoryRow
from athena_core.storage.queries import in_keys, memory_conditions

__all__ = ["session_neighbours"]

#: Sessions holding up to this many episodes (together) are read whole, in one query;
#: beyond, each episode's neighbours are looked up on their own (index range scans).
WHOLE_SESSIONS_LIMIT = 5_000


def session_neighbours(session: Session, keys: Iterable[int], *, window: int,
                       where: RecallFilter) -> dict[int, list[int]]:
    """For each episode among ``keys``: the episodes up to ``window`` places before and after
    it in its session (in the order they were recorded) that ``where`` allows, and the
    reverse links; memories that are not episodes of a session have none."""
    keys = list(keys)
    if window <= 0 or not keys:
        return {}
    sessions = {key: name for key, name in session.execute(
        select(EpisodeRow.memory_pk, EpisodeRow.session)
        .where(in_keys(EpisodeRow.memory_pk, keys), EpisodeRow.session.is_not(None)))
        if name is not None}
    if not sessions:
        return {}
    allowed = (select(EpisodeRow.session, EpisodeRow.memory_pk)
               .join(MemoryRow, MemoryRow.pk == EpisodeRow.memory_pk)
               .where(memory_conditions(where)))
    connection = session.connection()
    rows = connection.execute(
        allowed.where(EpisodeRow.session.in_(sorted(set(sessions.values()))))
        .order_by(EpisodeRow.session, EpisodeRow.memory_pk)
        .limit(WHOLE_SESSIONS_LIMIT + 1)).all()
    found = (_nearby_in_sessions(rows, sessions, window) if len(rows) <= WHOLE_SESSIONS_LIMIT
             else _nearby_by_query(connection, allowed, sessions, window))
    links: dict[int, set[int]] = {}
    for key, other in found:
        links.setdefault(key, set()).add(other)
        links.setdefault(other, set()).add(key)
    return {key: sorted(others) for key, others in links.items()}


def _nearby_in_sessions(rows: Sequence[Any], sessions: dict[int, str], window: int
                        ) -> Iterator[tuple[int, int]]:
    """``(key, neighbour)`` pairs from whole sessions' episodes, ordered by key."""
    ordered: dict[str, list[int]] = {}
    for name, key in rows:
        ordered.setdefault(name, []).append(key)
    for key, name in sessions.items():
        episodes = ordered.get(name, [])
        start = bisect.bisect_left(episodes, key)
        end = start + 1 if start < len(episodes) and episodes[start] == key else start
        for other in (*episodes[max(0, start - window):start], *episodes[end:end + window]):
            yield key, other


def _nearby_by_query(connection: Connection, allowed: Any, sessions: dict[int, str],
                     window: int) -> Iterator[tuple[int, int]]:
    """``(key, neighbour)`` pairs, two small queries per key (compiled once, reused)."""
    same = allowed.where(EpisodeRow.session == bindparam("session"))
    before = same.where(EpisodeRow.memory_pk < bindparam("key")).order_by(
        EpisodeRow.memory_pk.desc()).limit(window)
    after = same.where(EpisodeRow.memory_pk > bindparam("key")).order_by(
        EpisodeRow.memory_pk).limit(window)
    for key, name in sessions.items():
        for statement in (before, after):
            for _, other in connection.execute(statement, {"session": name, "key": key}):
                yield key, other
