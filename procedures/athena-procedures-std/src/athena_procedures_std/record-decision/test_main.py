import athena
from main import run


def test_the_decision_is_an_episode_and_a_fact() -> None:
    ids = run("use Postgres for the ledger", "we need transactions",
              alternatives=["MongoDB"], session="arch", actor="ana", topic="ledger")
    episode = athena.get(ids["episode"])
    assert episode["kind"] == "decision" and episode["actor"] == "ana"
    assert episode["metadata"] == {"rationale": "we need transactions",
                                   "alternatives": ["MongoDB"], "topic": "ledger"}
    fact = athena.get(ids["fact"])
    assert fact["text"] == "Decision: use Postgres for the ledger (because we need transactions)"
    assert fact["metadata"]["episode"] == ids["episode"]
    assert fact["importance"] == 0.7


def test_the_decision_is_found_by_recall_and_by_kind() -> None:
    run("freeze the public API", "partners want stability")
    hits = athena.recall("public API freeze", k=10, metadata={"type": "decision"})
    assert any("freeze the public API" in hit["text"] for hit in hits)
    assert "freeze the public API" in [e["text"] for e in athena.episodic.timeline(
        kind="decision")]


def test_a_decision_without_rationale_is_refused() -> None:
    try:
        run("do it", " ")
    except ValueError:
        return
    raise AssertionError("a decision without rationale was recorded")
