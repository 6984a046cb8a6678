"""How recall scores candidates: mixing, session context, recency and importance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from athena_core.config import Config
from athena_core.errors import ConfigError
from athena_core.retrieval.scoring import fuse, with_neighbours, with_recency_and_importance

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_fuse_keeps_how_much_better_a_candidate_is() -> None:
    scores = fuse([(1, 8.0), (2, 4.0)], [(2, 0.9), (3, 0.5), (4, -0.2)], lexical_weight=0.4)
    assert scores[1] == pytest.approx(0.4 * 1.0)
    assert scores[2] == pytest.approx(0.4 * 0.5 + 0.6 * 0.9)
    assert scores[3] == pytest.approx(0.6 * 0.5)
    assert scores[4] == 0.0  # a negative cosine adds nothing
    assert fuse([], [(5, 0.5)], lexical_weight=1.0) == {5: 0.0}


def test_neighbours_lend_a_share_of_their_best_score() -> None:
    scores = {1: 1.0, 2: 0.0, 3: 0.2}
    out = with_neighbours(scores, {2: [1, 3], 1: [2], 3: [2]}, weight=0.5)
    assert out == {1: pytest.approx(1.0), 2: pytest.approx(0.5), 3: pytest.approx(0.2)}


def test_recency_halves_every_half_life_and_importance_adds() -> None:
    scores = {1: 0.5, 2: 0.5}
    attributes = {1: (T0 - timedelta(days=30), 0.0), 2: (T0, 1.0)}
    out = with_recency_and_importance(scores, attributes, now=T0, recency_weight=0.2,
                                      half_life_days=30, importance_weight=0.1)
    assert out[1] == pytest.approx(0.5 + 0.1)
    assert out[2] == pytest.approx(0.5 + 0.2 + 0.1)


def _conversation(athena, scope="chat") -> dict[str, str]:
    ids = {}
    turns = [("s1", "Melanie: which instrument do you play these days?"),
             ("s1", "Caroline: mostly the violin, ever since childhood."),
             ("s1", "Melanie: lovely, I should hear it sometime."),
             ("s2", "Caroline: the weather was awful on the hike yesterday."),
             ("s2", "Melanie: we stayed home and baked bread instead.")]
    for index, (session, text) in enumerate(turns):
        ids[text.split(":")[1].strip()[:12]] = athena.episodic.record(
            text, occurred_at=T0 + timedelta(minutes=index), session=session,
            kind="conversation", scope=scope)
    return ids


# The hashing embedder sees words, not meaning: the answer shares no word with the question.
WORDS_ONLY = {"embedder": "hashing"}


def test_the_answer_after_a_matching_question_is_found_through_its_session(
        athena_factory, tmp_path) -> None:
    def scores(athena) -> dict[str, float]:
        ids = _conversation(athena)
        hits = {hit.id: hit.score for hit in athena.recall("which instrument do you play",
                                                           k=5, scope="chat")}
        return {name: hits.get(memory_id, 0.0) for name, memory_id in ids.items()}

    # The answer shares no word with the question; the turn before it does.
    with_context = scores(athena_factory(retrieval=WORDS_ONLY))
    assert max(with_context, key=with_context.__getitem__) == "which instru"
    assert with_context["mostly the v"] > 0.5 * with_context["which instru"]
    assert with_context["mostly the v"] > 2 * with_context["the weather "]
    # Without context (nor query expansion, which would find it by the speakers' names).
    plain = scores(athena_factory(tmp_path / "plain",
                                  retrieval={**WORDS_ONLY, "neighbour_weight": 0.0,
                                             "expansion_weight": 0.0}))
    assert plain["mostly the v"] < 0.1 * plain["which instru"]


def test_context_respects_the_filter(athena_factory) -> None:
    athena = athena_factory(retrieval=WORDS_ONLY)
    ids = _conversation(athena)
    found = [hit.id for hit in athena.recall("which instrument do you play", k=5, scope="chat",
                                             metadata={"nothing": "matches"})]
    assert found == []
    other_scope = [hit.id for hit in athena.recall("which instrument do you play", k=5,
                                                   scope="elsewhere")]
    assert ids["mostly the v"] not in other_scope


def test_recency_and_importance_weights_reorder_equal_matches(athena_factory, tmp_path) -> None:
    older, newer = (T0, 0.9), (T0 + timedelta(days=60), 0.1)  # (time, importance)
    cases = (("recent", {"recency_weight": 0.5}, newer),
             ("important", {"importance_weight": 0.5}, older))
    for name, settings, lifted in cases:
        scores = {}
        for variant, extra in (("weighted", settings), ("plain", {})):
            athena = athena_factory(tmp_path / f"{name}-{variant}",
                                    retrieval={"neighbour_weight": 0.0, **extra})
            ids = {athena.episodic.record("deployed the billing service", occurred_at=when,
                                          importance=importance): (when, importance)
                   for when, importance in (older, newer)}
            scores[variant] = {ids[hit.id]: hit.score
                               for hit in athena.recall("billing service deployed", k=2)}
        # Without the weight the two match equally; with it, the one it favours wins.
        assert scores["plain"][older] == pytest.approx(scores["plain"][newer]), name
        other = newer if lifted == older else older
        assert scores["weighted"][lifted] > scores["weighted"][other] + 1e-3, name


@pytest.mark.parametrize(("raw", "message"), [
    ({"lexical_weight": 1.5}, "Invalid value"),
    ({"lexical_weight": "high"}, "wrong type"),
    ({"recency_weight": float("nan")}, "wrong type"),
    ({"recency_half_life_days": 0}, "Invalid value"),
    ({"neighbour_window": 1.5}, "wrong type"),
])
def test_bad_scoring_settings_are_refused(tmp_path, raw, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_mapping({"retrieval": raw}, data_dir=tmp_path, env={})


def test_scoring_settings_from_the_environment(tmp_path) -> None:
    config = Config.from_mapping({"retrieval": {"lexical_weight": 1}}, data_dir=tmp_path,
                                 env={"ATHENA_RETRIEVAL_RECENCY_WEIGHT": "0.25"})
    assert config.retrieval.lexical_weight == 1.0
    assert config.retrieval.recency_weight == 0.25
    with pytest.raises(ConfigError, match="finite number"):
        Config.from_mapping({}, data_dir=tmp_path,
                            env={"ATHENA_RETRIEVAL_RECENCY_WEIGHT": "inf"})
