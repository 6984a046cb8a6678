import athena
from main import run


def _arrange() -> None:
    athena.episodic.record("use feature flags for the rollout", kind="decision",
                           session="w1", importance=0.8, occurred_at="2026-03-01T10:00:00Z")
    athena.episodic.record("run migrations before deploying", kind="lesson", session="w1",
                           occurred_at="2026-03-01T11:00:00Z")
    athena.episodic.record("the API gateway is Envoy", kind="fact", session="w1",
                           importance=0.3, occurred_at="2026-03-01T12:00:00Z")
    athena.episodic.record("opened a terminal", kind="action", session="w1",
                           occurred_at="2026-03-01T09:00:00Z")


def test_a_dry_run_makes_nothing() -> None:
    _arrange()
    result = run("w1", dry_run=True)
    assert [fact["text"] for fact in result["facts"]] == [
        "Decision: use feature flags for the rollout",
        "Lesson: run migrations before deploying", "the API gateway is Envoy"]
    assert athena.semantic.facts() == []


def test_kinds_and_importance_select_the_events() -> None:
    _arrange()
    result = run("w1", kinds=["decision", "fact"], min_importance=0.5)
    [fact] = result["facts"]
    stored = athena.get(fact["id"])
    assert stored["text"] == "Decision: use feature flags for the rollout"
    assert stored["metadata"]["session"] == "w1" and stored["importance"] == 0.8


def test_consolidating_again_adds_only_what_is_new() -> None:
    _arrange()
    result = run("w1")
    assert result["already_consolidated"] == 1 and len(result["facts"]) == 2
    again = run("w1")
    assert again["facts"] == [] and again["already_consolidated"] == 3
    assert len(athena.semantic.facts()) == 3
