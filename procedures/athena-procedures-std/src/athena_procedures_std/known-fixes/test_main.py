import athena
from main import run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    athena.episodic.record("pip install failed: no space left on device", kind="error",
                           session="b1", occurred_at="2026-03-01T10:00:00Z")
    athena.episodic.record("cleared the pip cache and retried", kind="fix", session="b1",
                           occurred_at="2026-03-01T10:04:00Z")
    athena.episodic.record("tests failed: flaky network mock", kind="error", session="b2",
                           occurred_at="2026-03-02T10:00:00Z")
    athena.episodic.record("a much later success", outcome="success", session="b2",
                           occurred_at="2026-03-09T10:00:00Z")
    athena.remember("When the disk is full, clear the pip cache",
                    metadata={"type": "fix"})
    athena.remember("The disk of the build machine is 50 GB")


def test_a_similar_error_comes_with_the_fix_that_followed_it() -> None:
    _arrange()
    found = run("pip install: no space left on device")
    by_error = {item["error"]: item for item in found["similar_errors"]}
    fixed = by_error["pip install failed: no space left on device"]
    assert fixed["fix"]["text"] == "cleared the pip cache and retried"
    assert found["fixed_before"]


def test_a_fix_outside_the_horizon_is_not_claimed() -> None:
    _arrange()
    by_error = {item["error"]: item for item in run("flaky network mock")["similar_errors"]}
    assert by_error["tests failed: flaky network mock"]["fix"] is None
    by_error = {item["error"]: item
                for item in run("flaky network mock", horizon_hours=24 * 30)["similar_errors"]}
    assert by_error["tests failed: flaky network mock"]["fix"]["text"] == "a much later success"


def test_only_facts_of_type_fix_are_offered() -> None:
    _arrange()
    assert run("disk full")["fix_facts"] == ["When the disk is full, clear the pip cache"]
