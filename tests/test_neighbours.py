"""Session neighbours: the episodes recorded just before and after a candidate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from athena_core.retrieval import neighbours
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.neighbours import session_neighbours
from athena_core.storage.models import MemoryRow

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def episodes(athena) -> dict[str, int]:
    """Two sessions recorded interleaved, one episode in another scope, one fact: name -> key."""
    ids = {}
    for i in range(6):
        for name in ("a", "b"):
            ids[f"{name}{i}"] = athena.episodic.record(
                f"{name} step {i}", session=name, occurred_at=T0 + timedelta(minutes=i))
    ids["a-elsewhere"] = athena.episodic.record("a step in another scope", session="a",
                                                scope="other")
    ids["fact"] = athena.remember("a plain fact, no session")
    with athena.storage.read() as session:
        keys = {id_: pk for id_, pk in session.execute(select(MemoryRow.id, MemoryRow.pk))}
    return {name: keys[id_] for name, id_ in ids.items()}


@pytest.fixture(params=["whole sessions", "one query per key"])
def path(request, monkeypatch) -> str:
    if request.param == "one query per key":
        monkeypatch.setattr(neighbours, "WHOLE_SESSIONS_LIMIT", 0)
    return request.param


def test_neighbours_within_the_window_in_the_same_session(athena, episodes, path) -> None:
    k = episodes
    with athena.storage.read() as session:
        links = session_neighbours(session, [k["a2"], k["b0"], k["fact"]], window=2,
                                   where=RecallFilter("default"))
    assert links[k["a2"]] == [k["a0"], k["a1"], k["a3"], k["a4"]]
    assert links[k["b0"]] == [k["b1"], k["b2"]]  # nothing before the first episode
    assert links[k["a0"]] == [k["a2"]] and links[k["b2"]] == [k["b0"]]  # links go both ways
    assert k["fact"] not in links


def test_filtered_out_episodes_are_not_neighbours(athena, episodes, path) -> None:
    k = episodes
    with athena.storage.read() as session:
        links = session_neighbours(session, [k["a5"]], window=1,
                                   where=RecallFilter("default"))
        elsewhere = session_neighbours(session, [k["a-elsewhere"]], window=1,
                                       where=RecallFilter("other"))
    assert links == {k["a5"]: [k["a4"]], k["a4"]: [k["a5"]]}  # the other scope's is skipped
    assert elsewhere == {}


def test_both_ways_of_reading_agree(athena, episodes, monkeypatch) -> None:
    keys = list(episodes.values())
    where = RecallFilter("default")
    with athena.storage.read() as session:
        whole = session_neighbours(session, keys, window=3, where=where)
        monkeypatch.setattr(neighbours, "WHOLE_SESSIONS_LIMIT", 0)
        by_query = session_neighbours(session, keys, window=3, where=where)
    assert whole == by_query and whole
