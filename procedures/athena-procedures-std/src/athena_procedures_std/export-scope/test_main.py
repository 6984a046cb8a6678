import athena
from main import FORMAT, run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    first = athena.remember("Releases are cut on Mondays", metadata={"team": "web"})
    athena.semantic.update(first, "Releases are cut on Thursdays", reason="new cadence")
    athena.remember("The staging URL is staging.example.test", importance=0.9)
    athena.episodic.record("cut release 4.1", session="rel", kind="action", actor="ana",
                           outcome="success", context={"branch": "main"},
                           occurred_at="2026-03-02T10:00:00Z")
    athena.episodic.record("announced release 4.1", session="rel",
                           occurred_at="2026-03-02T11:00:00Z")


def test_everything_current_is_exported() -> None:
    _arrange()
    data = run()
    assert data["format"] == FORMAT
    assert data["counts"] == {"facts": 2, "episodes": 2}
    assert sorted(fact["text"] for fact in data["facts"]) == [
        "Releases are cut on Thursdays", "The staging URL is staging.example.test"]
    first = data["episodes"][0]
    assert first == {"text": "cut release 4.1", "occurred_at": "2026-03-02T10:00:00+00:00",
                     "session": "rel", "kind": "action", "outcome": "success",
                     "actor": "ana", "context": {"branch": "main"}, "importance": 0.5}


def test_history_adds_the_earlier_versions() -> None:
    _arrange()
    facts = {fact["text"]: fact for fact in run(include_history=True)["facts"]}
    [old] = facts["Releases are cut on Thursdays"]["history"]
    assert old["text"] == "Releases are cut on Mondays"
    assert old["supersede_reason"] == "new cadence" and old["metadata"] == {"team": "web"}
    assert "history" not in facts["The staging URL is staging.example.test"]


def test_parts_can_be_left_out_and_limited() -> None:
    _arrange()
    assert run(include_facts=False)["counts"] == {"facts": 0, "episodes": 2}
    assert run(include_episodes=False, limit=1)["counts"] == {"facts": 1, "episodes": 0}
