"""Recall filters are SQL conditions, whatever they match; metadata filter operators; pages.

A filter (metadata, session, actor, context, time, kind) is applied by the database
inside each search, never turned into a list of matching keys sent back as bound
parameters: that list made a filter matching 100,000 memories 60 times slower and
one matching 300,000 fail with "too many SQL variables".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from athena_core.errors import InvalidArgumentError
from athena_core.testing.bulk import bulk_fill
from tests.sandbox import require_sandbox

#: Small vectors: a store of a quarter of a million memories stays small.
SMALL = {"embedder": "hashing", "embedder_options": {"dimension": 8}}
#: More keys than SQLite accepts bound parameters in one statement (250,000 here).
MANY = 260_000
#: However many memories a filter matches, no statement of a recall binds more values.
MAX_BOUND = 32


@contextmanager
def bound_parameters() -> Iterator[list[int]]:
    """The number of bound parameters of each statement run in the block."""
    counts: list[int] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        rows = parameters if executemany else [parameters]
        counts.extend(len(row or ()) for row in rows)

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", before)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a quarter of a million rows: under a minute on an idle machine
def test_a_filter_matching_more_memories_than_sqlite_binds_does_not_fail(athena_factory):
    athena = athena_factory(retrieval=SMALL)
    # One memory in a hundred has the query's words: full-text search filters those.
    bulk_fill(athena, MANY, layer="episodic",
              text=lambda i: f"deploy step {i}" if i % 100 == 0 else f"entry {i}",
              metadata=lambda i: {"team": "ops"}, session=lambda i: "night",
              actor=lambda i: "ann")
    other = athena.episodic.record("deploy step by someone else", session="day", actor="bob",
                                   context={"team": "web"})
    hits = athena.recall("deploy step", k=5, metadata={"team": "ops"})
    assert len(hits) == 5 and all(hit.metadata == {"team": "ops"} for hit in hits)
    for found in (athena.episodic.search("deploy step", k=5, session="night"),
                  athena.episodic.search("deploy step", k=5, actor="ann"),
                  athena.episodic.search("deploy step", k=5, context={"team": "ops"})):
        assert len(found) == 5 and other not in [hit.id for hit in found]
        assert {(hit.session, hit.actor) for hit in found} == {("night", "ann")}


@pytest.mark.parametrize("matching", [100, 3_000])
def test_recall_binds_few_parameters_however_many_memories_match(athena_factory, matching):
    athena = athena_factory(retrieval=SMALL)
    bulk_fill(athena, matching, layer="episodic", text=lambda i: f"backup job {i}",
              metadata=lambda i: {"team": "ops", "n": i}, session=lambda i: "night",
              actor=lambda i: "ann")
    bulk_fill(athena, 500, layer="episodic", text=lambda i: f"backup job elsewhere {i}",
              metadata=lambda i: {"team": "web"}, session=lambda i: "day")
    athena.recall("warm up the index")
    calls: list[Callable[[], Any]] = [
        lambda: athena.recall("backup job", k=10, metadata={"team": "ops"}),
        lambda: athena.recall("backup job", k=10, metadata={"n": {"gte": 10}}),
        lambda: athena.recall("backup job", k=10, metadata={"team": {"in": ["ops", "x"]}}),
        lambda: athena.episodic.search("backup job", k=10, session="night"),
        lambda: athena.episodic.search("backup job", k=10, actor="ann"),
        lambda: athena.episodic.search("backup job", k=10, context={"team": "ops"}),
    ]
    for call in calls:
        with bound_parameters() as counts:
            hits = call()
        assert len(hits) == 10
        assert max(counts) <= MAX_BOUND, f"a statement bound {max(counts)} parameters"


# --- metadata filter operators ------------------------------------------------------------

NOTES: dict[str, dict[str, Any]] = {
    "one": {"n": 1, "team": "ops", "tags": ["urgent", "db"], "day": "2024-02-28"},
    "two": {"n": 2, "team": "web", "tags": ["db"], "day": "2024-03-01"},
    "three": {"n": 3.0, "team": "ops", "tags": "urgent", "day": "2024-03-31", "owner": None},
    "four": {"n": 4, "team": "data", "tags": [1, "urgent"], "day": "2024-04-01",
             "owner": "ann"},
    "five": {"n": "3", "team": True, "tags": [], "day": 20240315, "owner": "bob"},
}

CASES = [
    ({"team": "ops"}, {"one", "three"}),
    ({"team": {"in": ["ops", "web"]}}, {"one", "two", "three"}),
    ({"team": {"in": [True]}}, {"five"}),
    ({"team": {"in": []}}, set()),
    ({"n": {"in": [1, 3]}}, {"one", "three"}),  # 3 matches 3.0, not "3"
    ({"owner": {"in": [None, "ann"]}}, {"one", "two", "three", "four"}),
    ({"tags": {"contains": "urgent"}}, {"one", "four"}),  # a string is not a list
    ({"tags": {"contains": 1.0}}, {"four"}),
    ({"tags": {"contains": "nothing"}}, set()),
    ({"n": {"gt": 1}}, {"two", "three", "four"}),  # numbers only: not "3"
    ({"n": {"gte": 2, "lt": 4}}, {"two", "three"}),
    ({"n": {"lte": 1.5}}, {"one"}),
    ({"day": {"gte": "2024-03-01", "lt": "2024-04-01"}}, {"two", "three"}),  # not 20240315
    ({"day": {"gt": "2024-03-31"}}, {"four"}),
    ({"n": {"gt": 1}, "team": {"in": ["ops", "data"]}}, {"three", "four"}),
]


@pytest.fixture
def noted(athena) -> tuple[Any, dict[str, str]]:
    ids = {name: athena.remember(f"planning note {name}", metadata=meta)
           for name, meta in NOTES.items()}
    for name, meta in NOTES.items():
        athena.episodic.record(f"planning event {name}", context=meta, session="s")
    return athena, {ident: name for name, ident in ids.items()}


@pytest.mark.parametrize(("wanted", "expected"), CASES)
def test_metadata_operators_select_the_same_memories_everywhere(noted, wanted, expected):
    athena, names = noted
    recalled = {names[hit.id] for hit in athena.recall("planning note", k=20,
                                                       layers=["semantic"], metadata=wanted)}
    assert recalled == expected
    facts = {names[fact.id] for fact in athena.semantic.facts(metadata=wanted)}
    assert facts == expected
    events = {e.content.split()[-1] for e in athena.episodic.timeline(context=wanted)}
    assert events == expected
    searched = {hit.text.split()[-1] for hit in athena.episodic.search(
        "planning event", k=20, context=wanted)}
    assert searched == expected


def test_forget_takes_the_same_filters(noted):
    athena, names = noted
    assert athena.forget(metadata={"n": {"gte": 2, "lt": 4}}) == 4  # two facts, two events
    assert {names[fact.id] for fact in athena.semantic.facts()} == {"one", "four", "five"}


@pytest.mark.parametrize(("wanted", "words"), [
    ({"n": {"between": [1, 2]}}, ["'n'", "'between'", "in", "contains", "gt", "lte"]),
    ({"n": {}}, ["'n'", "in", "contains", "gte"]),
    ({"n": {"in": "ops"}}, ["'n'", "'in'", "list"]),
    ({"n": {"in": [[1]]}}, ["'n'", "'in'"]),
    ({"n": {"in": [{"a": 1}]}}, ["'n'", "'in'"]),
    ({"n": {"contains": [1]}}, ["'n'", "'contains'"]),
    ({"n": {"gt": True}}, ["'n'", "'gt'", "number or a string"]),
    ({"n": {"lt": None}}, ["'n'", "'lt'"]),
    ({"n": {"gte": float("nan")}}, ["'n'", "'gte'"]),
    ({"n": {"gt": 1, "lt": "z"}}, ["'n'", "number", "string"]),
    ({"n": [1, 2]}, ["'n'", "in"]),
    ({"n": {"in": ["a\x00"]}}, ["'n'", "NUL"]),
    ({"n": {"contains": "\ud800"}}, ["'n'", "surrogate"]),
])
def test_bad_filter_shapes_are_refused_naming_the_key_and_the_operators(athena, wanted, words):
    for call in (lambda: athena.recall("x", metadata=wanted),
                 lambda: athena.semantic.facts(metadata=wanted),
                 lambda: athena.episodic.timeline(context=wanted),
                 lambda: athena.forget(metadata=wanted)):
        with pytest.raises(InvalidArgumentError) as caught:
            call()
        for word in words:
            assert word in str(caught.value)


# --- pages ------------------------------------------------------------------------------


def _pages(fetch: Callable[..., list[Any]], limit: int) -> list[list[Any]]:
    pages, cursor = [], None
    while True:
        page = fetch(limit=limit, cursor=cursor)
        if not page:
            return pages
        pages.append(page)
        cursor = page[-1].cursor
        assert isinstance(cursor, str)


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_timeline_pages_neither_skip_nor_repeat_equal_timestamps(athena, order):
    same = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ids = [athena.episodic.record(f"tick {i}", occurred_at=same + timedelta(
        seconds=(i // 10)), context={"i": i}) for i in range(25)]
    whole = athena.episodic.timeline(order=order)
    pages = _pages(lambda **kw: athena.episodic.timeline(order=order, **kw), limit=4)
    paged = [e.id for page in pages for e in page]
    assert paged == [e.id for e in whole] and sorted(paged) == sorted(ids)
    assert [len(page) for page in pages] == [4] * 6 + [1]
    times = [e.occurred_at for e in whole]
    assert times == sorted(times, reverse=order == "desc")
    filtered = _pages(lambda **kw: athena.episodic.timeline(
        context={"i": {"gte": 5, "lt": 15}}, order=order, **kw), limit=3)
    assert sorted(e.metadata["i"] for page in filtered for e in page) == list(range(5, 15))


def test_facts_pages_neither_skip_nor_repeat_equal_timestamps(athena, monkeypatch):
    import athena_core.memory.store as store_module

    monkeypatch.setattr(store_module, "utcnow", lambda: datetime(2026, 3, 1, tzinfo=UTC))
    ids = {athena.remember(f"fact {i}", metadata={"even": i % 2 == 0}) for i in range(23)}
    monkeypatch.undo()
    newer = athena.remember("a newer fact")
    pages = _pages(athena.semantic.facts, limit=5)
    paged = [fact.id for page in pages for fact in page]
    assert paged[0] == newer and len(paged) == len(set(paged)) == 24
    assert set(paged) == ids | {newer}
    assert paged == [fact.id for fact in athena.semantic.facts()]
    evens = _pages(lambda **kw: athena.semantic.facts(metadata={"even": True}, **kw), limit=5)
    assert len([f for page in evens for f in page]) == 12
    # offset still works, and agrees with the order pages follow.
    assert [f.id for f in athena.semantic.facts(limit=5, offset=5)] == paged[5:10]


@pytest.mark.parametrize("cursor", ["", "garbage", "eyJ4IjogMX0", "A" * 5000])
def test_a_cursor_not_given_by_a_page_is_refused(athena, cursor):
    athena.episodic.record("tick")
    for call in (lambda: athena.episodic.timeline(cursor=cursor),
                 lambda: athena.semantic.facts(cursor=cursor)):
        with pytest.raises(InvalidArgumentError) as caught:
            call()
        assert "cursor" in str(caught.value)


@require_sandbox()
def test_a_program_pages_with_cursors_and_filters_with_operators(athena):
    same = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for i in range(7):
        athena.episodic.record(f"step {i}", occurred_at=same, session="s", context={"i": i})
    result = athena.execute(
        "import athena\n"
        "seen, cursor = [], None\n"
        "while page := athena.episodic.timeline(session='s', limit=3, cursor=cursor):\n"
        "    seen += [event.text for event in page]\n"
        "    cursor = page[-1].cursor\n"
        "print(seen == [f'step {i}' for i in range(7)])\n"
        "print(len(athena.episodic.search('step', context={'i': {'in': [1, 5]}})))\n"
        "try:\n"
        "    athena.recall('step', metadata={'i': {'between': [1, 2]}})\n"
        "except athena.errors.InvalidArgumentError as error:\n"
        "    print('between' in str(error))\n")
    assert result.status == "ok", result.error
    assert result.stdout.split() == ["True", "2", "True"]


def test_a_cursor_is_tied_to_its_listing(athena):
    athena.episodic.record("tick")
    athena.remember("fact")
    [event] = athena.episodic.timeline()
    [fact] = athena.semantic.facts()
    with pytest.raises(InvalidArgumentError, match="cursor"):
        athena.episodic.timeline(order="desc", cursor=event.cursor)
    with pytest.raises(InvalidArgumentError, match="cursor"):
        athena.semantic.facts(cursor=event.cursor)
    with pytest.raises(InvalidArgumentError, match="cursor"):
        athena.episodic.timeline(cursor=fact.cursor)


# --- the dense half: bounded candidates, or direct scoring -----------------------------


@pytest.mark.parametrize(("every", "max_candidates", "reindexed"),
                         [(2, 20_000, False), (20, 20_000, False), (500, 20_000, False),
                          (50, 400, False), (50, 40, True)])
def test_filtered_vector_search_finds_the_true_nearest_matches(athena_factory, monkeypatch,
                                                               every, max_candidates,
                                                               reindexed):
    """Over-fetched candidates filtered in SQL, or (past ``max_candidates``) the matching
    memories scored directly: either way the exact backend's answer is the true top k,
    also after a reindex has moved the vectors to the other generation's table."""
    import threading

    import numpy as np

    from athena_core.retrieval import candidates
    from athena_core.retrieval.filters import MetadataFilter, RecallFilter

    monkeypatch.setattr(candidates, "MAX_CANDIDATES", max_candidates)
    athena = athena_factory(retrieval={"embedder": "hashing",
                                       "embedder_options": {"dimension": 16}})
    keys = bulk_fill(athena, 5_000, metadata=lambda i: {"m": i % every}, seed=3)
    if reindexed:
        athena.index.reindex()
    athena.recall("load the vector index")
    store = athena.store
    table = "embeddings_alt" if reindexed else "embeddings"
    with store.storage.read() as session:
        vectors = np.stack([np.frombuffer(blob, dtype=np.float32) for blob in session.scalars(
            text(f"SELECT vector FROM {table} ORDER BY memory_pk"))])
    query = np.random.default_rng(5).standard_normal(16).astype(np.float32)
    query /= np.linalg.norm(query)
    where = RecallFilter("default", metadata=MetadataFilter.parse({"m": 0}))
    found = candidates.filtered_search(store.index.backend, query, k=10, where=where,
                                       read=store.storage.read, lock=threading.RLock(),
                                       vector_table=store.index._query_vectors)
    matching = np.arange(0, 5_000, every)
    truth = matching[np.argsort(-(vectors[matching] @ query))[:10]]
    assert [score for _, score in found] == pytest.approx(
        sorted((vectors[truth] @ query).tolist(), reverse=True), abs=1e-5)
    index_of = {key: i for i, key in enumerate(keys)}
    for key, score in found:  # each a matching memory, with its own score
        assert index_of[key] % every == 0
        assert score == pytest.approx(float(vectors[index_of[key]] @ query), abs=1e-5)
    if not reindexed:  # random vectors: no ties (texts embedded by words may tie)
        assert [key for key, _ in found] == [keys[i] for i in truth]
