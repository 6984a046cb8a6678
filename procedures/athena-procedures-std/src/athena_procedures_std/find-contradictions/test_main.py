import athena
from main import run


def _arrange() -> None:
    for text in ["The staging database runs PostgreSQL 15",
                 "The staging database runs PostgreSQL 16",
                 "Deploys on Friday afternoons are allowed",
                 "Deploys on Friday afternoons are not allowed",
                 "The response cache is enabled in production",
                 "The response cache is disabled in production",
                 "The office coffee machine is on floor 3"]:
        if not any(fact["text"] == text for fact in athena.semantic.facts(limit=100)):
            athena.remember(text)


def _reasons(pairs: list) -> dict:
    return {frozenset((pair["a"]["text"], pair["b"]["text"])): pair["reason"]
            for pair in pairs}


def test_numbers_negation_and_opposite_words_are_found() -> None:
    _arrange()
    reasons = _reasons(run())
    assert reasons[frozenset(("The staging database runs PostgreSQL 15",
                              "The staging database runs PostgreSQL 16"))].startswith(
        "different numbers: 15 vs 16")
    assert reasons[frozenset(("Deploys on Friday afternoons are allowed",
                              "Deploys on Friday afternoons are not allowed"))] == \
        "one of them is negated"
    assert reasons[frozenset(("The response cache is enabled in production",
                              "The response cache is disabled in production"))] == \
        "opposite words: enabled / disabled"


def test_unrelated_facts_are_not_paired() -> None:
    _arrange()
    pairs = run()
    assert len(pairs) == 3
    assert all("coffee" not in pair["a"]["text"] + pair["b"]["text"] for pair in pairs)


def test_a_topic_narrows_the_facts_compared() -> None:
    _arrange()
    texts = {pair["a"]["text"] for pair in run(topic="response cache production")}
    assert any("cache" in text for text in texts)


def test_a_strict_overlap_keeps_only_near_identical_pairs() -> None:
    _arrange()
    assert run(min_overlap=1.0) != []
    assert all(pair["overlap"] == 1.0 for pair in run(min_overlap=1.0))


def test_bad_arguments_are_refused() -> None:
    try:
        run(min_overlap=0)
    except ValueError:
        return
    raise AssertionError("min_overlap=0 was accepted")
