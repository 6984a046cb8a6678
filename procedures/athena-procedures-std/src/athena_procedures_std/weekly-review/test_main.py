import athena
from main import run

WEEK_END = "2026-03-08T00:00:00+00:00"


def _arrange() -> None:
    athena.episodic.record("opened the quarterly planning", session="plan", kind="action",
                           actor="alice", occurred_at="2026-03-02T09:00:00Z")
    athena.episodic.record("the build broke on the release branch", session="rel",
                           kind="error", actor="bob", importance=0.9,
                           occurred_at="2026-03-05T14:00:00Z")
    athena.episodic.record("ship 2.3 without the beta flag", session="rel",
                           kind="decision", actor="alice",
                           occurred_at="2026-03-05T15:00:00Z")
    athena.episodic.record("a week earlier", session="old", occurred_at="2026-02-20T09:00:00Z")


def test_only_the_events_of_the_week_are_reviewed() -> None:
    _arrange()
    review = run(end=WEEK_END)
    assert review["events"] == 3
    assert review["start"] == "2026-03-01T00:00:00+00:00"
    assert review["per_day"] == {"2026-03-02": 1, "2026-03-05": 2}
    assert review["sessions"] == ["plan", "rel"]


def test_failures_decisions_and_highlights() -> None:
    _arrange()
    review = run(end=WEEK_END, top=1)
    assert [f["text"] for f in review["failures"]] == ["the build broke on the release branch"]
    assert [d["text"] for d in review["decisions"]] == ["ship 2.3 without the beta flag"]
    assert review["highlights"] == ["the build broke on the release branch"]
    assert review["actors"] == {"alice": 2, "bob": 1}


def test_a_longer_period_reaches_further_back() -> None:
    _arrange()
    assert run(end=WEEK_END, days=30)["events"] == 4


def test_facts_written_in_the_period_are_new_or_changed() -> None:
    first = athena.remember("the release train leaves on Tuesdays")
    athena.remember("the on-call rota is in the wiki")
    athena.semantic.update(first, "the release train leaves on Wednesdays",
                           reason="moved")
    review = run()
    assert review["new_facts"] == ["the on-call rota is in the wiki"]
    assert review["changed_facts"] == ["the release train leaves on Wednesdays"]
    assert run(end=WEEK_END)["new_facts"] == []
