"""What a query names steers recall: the actors of episodes, dates, and (optionally) the
words of its best matches (query expansion)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from athena_core.errors import ConfigError, InvalidArgumentError
from athena_core.retrieval.expansion import expanded_scores, expansion_words, word_weights
from athena_core.retrieval.periods import RECORDED_AFTER, named_periods

T0 = datetime(2024, 3, 16, 18, 0, tzinfo=UTC)
WORDS_ONLY = {"embedder": "hashing"}


def _day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(("query", "start", "end"), [
    ("What did Sam do on March 16, 2024?", _day(2024, 3, 15), _day(2024, 3, 17)),
    ("What did Sam do on 16th March 2024?", _day(2024, 3, 15), _day(2024, 3, 17)),
    ("the deploy of 2024-03-16", _day(2024, 3, 15), _day(2024, 3, 17)),
    ("which book in Jan 2023", _day(2022, 12, 31), _day(2023, 2, 1)),
    ("what broke in December, 2023", _day(2023, 11, 30), _day(2024, 1, 1)),
    ("trips in 2022", _day(2021, 12, 31), _day(2023, 1, 1)),
])
def test_named_periods_are_widened_to_when_they_may_have_been_recorded(query, start,
                                                                       end) -> None:
    (period,) = named_periods(query)
    assert (period.start, period.end) == (start, end + RECORDED_AFTER)
    assert start in period and end + RECORDED_AFTER not in period


@pytest.mark.parametrize("query", ["camping in June?", "what happened last week",
                                   "on February 30, 2023", "version 2024-13-01", "v12023"])
def test_vague_or_impossible_dates_name_no_period(query) -> None:
    assert named_periods(query) == []


def test_a_day_is_not_read_again_as_its_month_or_year() -> None:
    assert len(named_periods("between March 3, 2022 and May 2022")) == 2


def test_the_actor_a_query_names_comes_first(athena_factory, tmp_path) -> None:
    def scores(athena) -> dict[str | None, float]:
        ids = {athena.episodic.record("went hiking in the hills last weekend", occurred_at=T0,
                                      actor=actor, kind="conversation"): actor
               for actor in ("Caroline", "Melanie", None)}
        return {ids[hit.id]: hit.score for hit in athena.recall("Where did Melanie go hiking?")}

    boosted = scores(athena_factory(retrieval=WORDS_ONLY))
    assert boosted["Melanie"] == pytest.approx(1.5 * boosted["Caroline"])
    assert boosted["Caroline"] == pytest.approx(boosted[None])
    plain = scores(athena_factory(tmp_path / "plain",
                                  retrieval={**WORDS_ONLY, "actor_weight": 0.0}))
    assert plain["Melanie"] == pytest.approx(plain["Caroline"])


def test_actor_is_stored_filtered_on_and_part_of_what_makes_an_event_new(athena) -> None:
    said = athena.episodic.record("the build is green", occurred_at=T0, actor="ci-bot")
    assert athena.episodic.record("the build is green", occurred_at=T0, actor="ci-bot") == said
    other = athena.episodic.record("the build is green", occurred_at=T0, actor="Dana")
    assert other != said
    assert [e.id for e in athena.episodic.timeline(actor="Dana")] == [other]
    assert [h.id for h in athena.episodic.search("build green", actor="ci-bot")] == [said]
    for bad in ("", "   ", "x" * 256):
        with pytest.raises(InvalidArgumentError, match="actor"):
            athena.episodic.record("never stored", actor=bad)


def test_a_memory_from_the_named_month_comes_first(athena_factory, tmp_path) -> None:
    def scores(athena) -> dict[datetime, float]:
        ids = {athena.episodic.record("rotated the database credentials", occurred_at=when): when
               for when in (_day(2024, 1, 10), _day(2024, 3, 20), _day(2024, 6, 5))}
        hits = athena.recall("When were the database credentials rotated in March 2024?")
        return {ids[hit.id]: hit.score for hit in hits}

    boosted = scores(athena_factory(retrieval=WORDS_ONLY))
    assert boosted[_day(2024, 3, 20)] == pytest.approx(1.2 * boosted[_day(2024, 1, 10)])
    assert boosted[_day(2024, 1, 10)] == pytest.approx(boosted[_day(2024, 6, 5)])
    plain = scores(athena_factory(tmp_path / "plain",
                                  retrieval={**WORDS_ONLY, "period_weight": 0.0}))
    assert plain[_day(2024, 3, 20)] == pytest.approx(plain[_day(2024, 1, 10)])


def test_a_memory_that_asks_scores_less_than_one_that_tells(athena_factory, tmp_path) -> None:
    def scores(athena) -> dict[str, float]:
        texts = ["where did the team move the staging database?",
                 "the team moved the staging database to the new cluster",
                 "Did the team move the staging database?  "]  # trailing spaces still ask
        ids = {athena.remember(text): text[:5] for text in texts}
        # On PostgreSQL both instances share one database: only this one's memories count.
        return {ids[hit.id]: hit.score for hit in athena.recall("staging database move")
                if hit.id in ids}

    penalised = scores(athena_factory(retrieval=WORDS_ONLY))
    plain = scores(athena_factory(tmp_path / "plain",
                                  retrieval={**WORDS_ONLY, "question_penalty": 0.0}))
    for asked in ("where", "Did t"):
        assert penalised[asked] == pytest.approx(0.8 * plain[asked])
    assert penalised["the t"] == pytest.approx(plain["the t"])


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.2"])
def test_question_penalty_is_a_share(athena_factory, bad) -> None:
    with pytest.raises(ConfigError, match="question_penalty"):
        athena_factory(retrieval={"question_penalty": bad})


def test_expansion_words_are_telling_words_of_the_best_matches() -> None:
    weights = word_weights(["The gateway certificate expired; the gateway went down.",
                            "We renewed it"], query="why did the gateway go down")
    assert "gateway" not in weights and "the" not in weights and "we" not in weights
    assert weights["certificate"] == pytest.approx(1 / 8)
    counts = {"certificate": 2, "expired": 40, "went": 900, "renewed": 3}
    # "renewed" is a third of its text; "went" is as frequent as "certificate" but common.
    assert expansion_words(weights, counts, total=1_000, limit=2) == ["renewed", "certificate"]
    assert expansion_words(weights, {}, total=1_000, limit=5) == []  # unknown to the index


def test_expansion_adds_at_most_its_share_of_the_best_direct_score() -> None:
    lexical = [(1, 10.0), (2, 4.0)]
    expansion = [(2, 50.0), (3, 25.0)]
    assert expanded_scores(lexical, expansion, weight=0.4) == [(1, 10.0), (2, 8.0), (3, 2.0)]
    assert expanded_scores([], expansion, weight=0.4) == []
    assert expanded_scores(lexical, [], weight=0.4) == lexical


def test_query_expansion_finds_what_shares_words_only_with_the_best_match(
        athena_factory, tmp_path) -> None:
    texts = ["the payments outage came from an expired gateway certificate",
             "renewed the gateway certificate and added expiry alerts",
             "lunch order for the offsite: sandwiches and salads"]

    def scores(retrieval) -> list[float]:
        # A scope of its own: on PostgreSQL both instances share one database.
        scope = f"expansion-{retrieval.get('expansion_weight', 0)}"
        athena = athena_factory(tmp_path / scope, retrieval=retrieval)
        ids = [athena.remember(text, scope=scope) for text in texts]
        found = {hit.id: hit.score for hit in athena.recall("payments outage", k=3, scope=scope)}
        return [found.get(memory_id, 0.0) for memory_id in ids]

    plain = scores(WORDS_ONLY)
    expanded = scores({**WORDS_ONLY, "expansion_weight": 0.4})
    assert expanded[0] == max(expanded)
    assert expanded[1] > plain[1] and expanded[1] > 2 * expanded[2]


def test_expansion_from_a_huge_memory_counts_a_bounded_shortlist(athena_factory,
                                                                 monkeypatch) -> None:
    from athena_core.retrieval import ranking

    counted: list[int] = []

    def word_counts(session, words, frequencies):
        counted.append(len(words))
        return real_word_counts(session, words, frequencies)

    real_word_counts = ranking.word_counts
    monkeypatch.setattr(ranking, "word_counts", word_counts)
    athena = athena_factory(retrieval={**WORDS_ONLY, "expansion_weight": 0.4})
    words = " ".join(f"term{n}" for n in range(40_000))
    huge = athena.remember(f"payments outage notes: {words}")
    assert [hit.id for hit in athena.recall("payments outage", k=1)] == [huge]
    assert counted and max(counted) <= 4 * 10  # a shortlist, not 40,000 words


def test_a_long_first_match_does_not_overtake_a_short_exact_one_through_expansion(
        athena_factory) -> None:
    athena = athena_factory(retrieval={**WORDS_ONLY, "expansion_weight": 0.4})
    exact = athena.remember("stored from node")
    athena.remember("a program: const hits = await athena.recall('deploy'); await "
                    "athena.remember('stored from node', {metadata: {via: 'js'}}); "
                    "console.log(hits[0].text)")
    assert [hit.id for hit in athena.recall("stored from node", k=1)] == [exact]
