import athena
from main import run


def _arrange() -> None:
    athena.episodic.record("image build failed", kind="error", session="a",
                           occurred_at="2026-03-01T10:00:00Z")
    athena.episodic.record("pinned the base image", kind="fix", session="a",
                           occurred_at="2026-03-01T10:10:00Z")
    athena.episodic.record("smoke test failed", kind="action", outcome="failure",
                           session="b", actor="ana", occurred_at="2026-03-02T10:00:00Z")
    athena.episodic.record("retried the smoke test", kind="action", outcome="failure",
                           session="b", occurred_at="2026-03-02T10:20:00Z")
    athena.episodic.record("certificate expires soon", kind="error",
                           occurred_at="2026-03-03T10:00:00Z")


def test_errors_without_a_later_fix_are_open() -> None:
    _arrange()
    texts = [error["text"] for error in run()]
    assert texts == ["certificate expires soon", "retried the smoke test",
                     "smoke test failed"]


def test_a_fix_closes_only_the_errors_before_it() -> None:
    _arrange()
    athena.episodic.record("image push failed", kind="error", session="a",
                           occurred_at="2026-03-01T11:00:00Z")
    texts = [error["text"] for error in run(end="2026-03-02T00:00:00Z")]
    assert texts == ["image push failed"]


def test_a_success_closes_the_session() -> None:
    _arrange()
    athena.episodic.record("smoke test passed", outcome="success", session="b",
                           occurred_at="2026-03-02T11:00:00Z")
    assert [error["session"] for error in run(start="2026-03-02T00:00:00Z")] == [None]
