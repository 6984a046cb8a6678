import athena
from main import run


def _arrange() -> None:
    athena.episodic.record("started the deploy of web 2.3", session="sum-a", kind="action",
                           actor="alice", occurred_at="2026-03-01T10:00:00Z")
    athena.episodic.record("migration 42 failed: lock timeout", session="sum-a",
                           kind="error", actor="alice", occurred_at="2026-03-01T10:05:00Z")
    athena.episodic.record("retry the migration with a longer timeout", session="sum-a",
                           kind="decision", actor="bob", occurred_at="2026-03-01T10:07:00Z")
    athena.episodic.record("migration 42 applied", session="sum-a", kind="action",
                           outcome="success", actor="bob",
                           occurred_at="2026-03-01T10:12:00Z")
    athena.episodic.record("unrelated event", session="sum-b",
                           occurred_at="2026-03-01T10:06:00Z")


def test_counts_kinds_actors_and_times_of_one_session() -> None:
    _arrange()
    summary = run("sum-a")
    assert summary["events"] == 4 and not summary["truncated"]
    assert summary["kinds"] == {"action": 2, "error": 1, "decision": 1}
    assert summary["actors"] == {"alice": 2, "bob": 2}
    assert summary["start"].startswith("2026-03-01T10:00")
    assert summary["end"].startswith("2026-03-01T10:12")


def test_failures_and_decisions_are_listed() -> None:
    _arrange()
    summary = run("sum-a")
    assert [event["text"] for event in summary["failures"]] == [
        "migration 42 failed: lock timeout"]
    assert [event["actor"] for event in summary["decisions"]] == ["bob"]


def test_the_summary_text_lists_events_in_order() -> None:
    _arrange()
    lines = run("sum-a")["summary"].splitlines()
    assert lines[0].startswith("Session sum-a: 4 events")
    assert "unrelated" not in "\n".join(lines)
    assert lines[1].endswith("alice: started the deploy of web 2.3")
    assert lines[4].endswith("migration 42 applied -> success")


def test_max_events_truncates() -> None:
    _arrange()
    summary = run("sum-a", max_events=2)
    assert summary["events"] == 2 and summary["truncated"]


def test_an_unknown_session_is_empty() -> None:
    assert run("no-such-session")["summary"] == "Session no-such-session: no events."
