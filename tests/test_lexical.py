"""Full-text retrieval details: tokenizer agreement and the common-word rule."""

from __future__ import annotations

import pytest

from athena_core.retrieval import lexical
from athena_core.retrieval.filters import RecallFilter
from tests.conftest import DATABASE_URL

pytestmark = pytest.mark.skipif(bool(DATABASE_URL), reason="SQLite FTS5 specifics")


def split(athena, words):
    with athena.storage.read() as session:
        return lexical._split_by_frequency(session, words, lexical.DocumentFrequencies())


def test_tokenizer_constant_matches_the_index(athena) -> None:
    with athena.storage.read() as session:
        ddl = session.connection().exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'memories_fts'").scalar()
    assert f"tokenize='{lexical.FTS_TOKENIZER}'" in ddl


def test_common_words_only_score_memories_that_have_a_rare_word(athena, monkeypatch) -> None:
    monkeypatch.setattr(lexical, "ALWAYS_RARE_BELOW", 5)
    for i in range(20):
        athena.remember(f"the server log line {i}")
    athena.remember("the deployment failed")
    # "deployments" is stemmed like "deployment"; "nowhere" is in no memory.
    assert split(athena, ["the", "deployments", "nowhere", "server"]) == (
        ["deployments"], ["the", "server"])
    assert split(athena, ["the", "server"]) == (["server"], ["the"])  # least common is rare
    with athena.storage.read() as session:
        keys = lexical.lexical_search(session, "the server deployments", limit=50,
                                      where=RecallFilter("default"))
    assert len(keys) == 1  # server-only memories do not match at all
    assert athena.recall("the deployments", k=1)[0].text == "the deployment failed"


def test_small_stores_match_every_word(athena) -> None:
    athena.remember("the cat sat on the mat")
    athena.remember("the dog sat on the log")
    assert split(athena, ["the", "cat", "sat"]) == (["the", "cat", "sat"], [])


def test_a_word_stored_after_a_search_is_found(athena) -> None:
    frequencies = lexical.DocumentFrequencies()
    with athena.storage.read() as session:
        assert lexical.lexical_search(session, "zebra", limit=5, where=RecallFilter("default"),
                                      frequencies=frequencies) == []
    athena.remember("a zebra crossed the road")
    with athena.storage.read() as session:
        assert len(lexical.lexical_search(session, "zebra", limit=5,
                                          where=RecallFilter("default"),
                                          frequencies=frequencies)) == 1


def test_required_words_stop_at_the_match_budget(monkeypatch) -> None:
    monkeypatch.setattr(lexical, "MATCH_BUDGET", 3)
    monkeypatch.setattr(lexical, "SCORED_BELOW", 10)
    frequency = {"alpha": 2, "beta": 2, "gamma": 1, "the": 50, "deploy": 8}
    must, scoring = lexical._within_budget(["alpha", "beta", "gamma"], ["the", "deploy"],
                                           frequency)
    # Rarest first while they cover at most 3 memories; query order kept.
    assert must == ["alpha", "gamma"]
    # The other rare word only scores; a common word scores unless it is too common.
    assert scoring == ["beta", "deploy"]
    # However common, one word is always required.
    assert lexical._within_budget(["the"], [], frequency) == (["the"], [])
