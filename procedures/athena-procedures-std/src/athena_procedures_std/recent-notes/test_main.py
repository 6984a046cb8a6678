from datetime import UTC, datetime, timedelta

import athena
from main import run


def _days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def test_recent_memories_are_listed_newest_first() -> None:
    athena.episodic.record("the billing deploy failed on staging", occurred_at=_days_ago(3))
    athena.episodic.record("the billing deploy passed on staging", occurred_at=_days_ago(1))
    texts = [item["text"] for item in run("billing deploy", limit=2)]
    assert texts == ["the billing deploy passed on staging",
                     "the billing deploy failed on staging"]


def test_older_memories_are_left_out() -> None:
    athena.episodic.record("the search index was rebuilt", occurred_at=_days_ago(30))
    athena.episodic.record("the search index was rebuilt again", occurred_at=_days_ago(2))
    assert [item["text"] for item in run("search index", days=7, limit=1)] == [
        "the search index was rebuilt again"]
    assert len(run("search index", days=60, limit=2)) == 2


def test_facts_count_from_when_they_were_remembered() -> None:
    memory_id = athena.remember("alerts page the on-call engineer")
    found = run("alerts on-call", days=1, limit=1)
    assert [item["id"] for item in found] == [memory_id]
    assert found[0]["layer"] == "semantic"


def test_the_limit_keeps_that_many_newest_first() -> None:
    for days in (5, 4, 3):
        athena.episodic.record(f"backup report {days} days ago", occurred_at=_days_ago(days))
    reports = ["backup report 3 days ago", "backup report 4 days ago",
               "backup report 5 days ago"]
    assert [item["text"] for item in run("backup report", limit=3)] == reports
    two = [item["text"] for item in run("backup report", limit=2)]
    assert len(two) == 2 and set(two) <= set(reports) and two == sorted(two)


def test_bad_arguments_are_refused() -> None:
    for arguments in ({"days": 0}, {"limit": 0}):
        try:
            run("anything", **arguments)
        except ValueError:
            continue
        raise AssertionError(f"{arguments} was accepted")
