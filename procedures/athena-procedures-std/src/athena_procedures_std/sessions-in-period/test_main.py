import athena
from main import run


def _arrange() -> None:
    athena.episodic.record("opened the incident", session="inc-1", actor="ana",
                           occurred_at="2026-03-01T10:00:00Z")
    athena.episodic.record("failover failed", session="inc-1", kind="error", actor="ben",
                           occurred_at="2026-03-01T10:30:00Z")
    athena.episodic.record("closed the incident", session="inc-1", actor="ana",
                           occurred_at="2026-03-01T12:00:00Z")
    athena.episodic.record("planned the sprint", session="plan-7", actor="cy",
                           occurred_at="2026-03-03T09:00:00Z")
    athena.episodic.record("a note without a session", occurred_at="2026-03-02T09:00:00Z")


def test_sessions_most_recent_first_with_their_span() -> None:
    _arrange()
    sessions = run()
    assert [s["session"] for s in sessions] == ["plan-7", "inc-1"]
    incident = sessions[1]
    assert incident["events"] == 3 and incident["failures"] == 1
    assert incident["actors"] == ["ana", "ben"]
    assert incident["first"].startswith("2026-03-01T10:00")
    assert incident["last"].startswith("2026-03-01T12:00")
    assert (incident["first_event"], incident["last_event"]) == ("opened the incident",
                                                                 "closed the incident")


def test_a_period_keeps_its_own_sessions() -> None:
    _arrange()
    assert [s["session"] for s in run(start="2026-03-02T00:00:00Z")] == ["plan-7"]
    [part] = run(start="2026-03-01T10:15:00Z", end="2026-03-02T00:00:00Z")
    assert part["events"] == 2
