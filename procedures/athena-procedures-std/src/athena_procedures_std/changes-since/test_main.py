import athena
from main import run

_STATE: dict[str, str] = {}


def _arrange() -> None:
    if _STATE:
        return
    old = athena.remember("The build uses Python 3.11")
    _STATE["mark"] = athena.get(old)["valid_from"]
    athena.semantic.update(old, "The build uses Python 3.12", reason="upgrade")
    athena.remember("Lint runs in CI before the tests")
    athena.episodic.record("upgraded the build image", kind="action",
                           occurred_at="2999-01-01T10:00:00Z")
    athena.episodic.record("the lint job failed", kind="error",
                           occurred_at="2999-01-01T11:00:00Z")
    athena.episodic.record("an old event", occurred_at="2000-01-01T10:00:00Z")


def test_new_and_changed_facts_since_a_moment() -> None:
    _arrange()
    changes = run(_STATE["mark"])
    assert [f["text"] for f in changes["new_facts"]] == ["Lint runs in CI before the tests"]
    [changed] = changes["changed_facts"]
    assert changed == {"id": changed["id"], "text": "The build uses Python 3.12",
                       "was": "The build uses Python 3.11", "reason": "upgrade"}


def test_events_since_a_moment() -> None:
    _arrange()
    changes = run("2998-01-01T00:00:00+00:00")
    assert changes["events"] == 2 and changes["kinds"] == {"action": 1, "error": 1}
    assert changes["failures"] == ["the lint job failed"]
    assert changes["new_facts"] == [] and changes["changed_facts"] == []


def test_everything_since_long_ago() -> None:
    _arrange()
    changes = run("1999-01-01")
    assert changes["events"] == 3 and len(changes["new_facts"]) == 1
