"""Episodes recorded next to each other in the same session (see ``scoring.with_neighbours``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from athena_core.retrieval.filters import RecallFilter
from athena_core.storage.models import EpisodeRow, MemoryRow
from athena_core.storage.queries import memory_conditions

__all__ = ["session_neighbours"]


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
        .where(EpisodeRow.memory_pk.in_(keys), EpisodeRow.session.is_not(None)))}
    base = (select(EpisodeRow.memory_pk)
            .join(MemoryRow, MemoryRow.pk == EpisodeRow.memory_pk)
            .where(memory_conditions(where)))
    links: dict[int, set[int]] = {}
    for key, name in sessions.items():
        same = base.where(EpisodeRow.session == name)
        before = same.where(EpisodeRow.memory_pk < key).order_by(
            EpisodeRow.memory_pk.desc()).limit(window)
        after = same.where(EpisodeRow.memory_pk > key).order_by(
            EpisodeRow.memory_pk).limit(window)
        for statement in (before, after):
            for other in session.scalars(statement):
                links.setdefault(key, set()).add(other)
                links.setdefault(other, set()).add(key)
    return {key: sorted(others) for key, others in links.items()}
