import athena
from main import run


def _arrange() -> None:
    athena.episodic.record("pasted a secret by mistake", session="oops",
                           occurred_at="2026-03-01T10:00:00Z")
    athena.episodic.record("kept working", session="oops", occurred_at="2026-03-01T10:05:00Z")
    athena.episodic.record("another session", session="keep",
                           occurred_at="2026-03-01T10:01:00Z")


def test_without_confirm_nothing_is_forgotten() -> None:
    _arrange()
    report = run("oops")
    assert report["events"] == 2 and report["forgotten"] == 0
    assert report["preview"] == ["pasted a secret by mistake", "kept working"]
    assert len(athena.episodic.timeline(session="oops")) == 2


def test_confirm_forgets_that_session_only() -> None:
    _arrange()
    assert run("oops", confirm=True)["forgotten"] == 2
    assert athena.episodic.timeline(session="oops") == []
    assert [e["text"] for e in athena.episodic.timeline()] == ["another session"]
    assert run("oops", confirm=True)["events"] == 0
