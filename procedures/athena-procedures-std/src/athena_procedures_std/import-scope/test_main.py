import athena
from main import FORMAT, run

DATA = {"format": FORMAT,
        "facts": [{"text": "Releases are cut on Thursdays", "metadata": {"team": "web"},
                   "importance": 0.7},
                  {"text": "The staging URL is staging.example.test"}],
        "episodes": [{"text": "cut release 4.1", "occurred_at": "2026-03-02T10:00:00+00:00",
                      "session": "rel", "kind": "action", "outcome": "success",
                      "actor": "ana", "context": {"branch": "main"}, "importance": 0.5}]}


def test_a_dry_run_writes_nothing() -> None:
    assert run(DATA, dry_run=True) == {"facts_added": 2, "facts_skipped": 0,
                                       "episodes_recorded": 1, "dry_run": True}
    assert athena.semantic.facts() == [] and athena.episodic.timeline() == []


def test_facts_and_episodes_are_imported_with_their_fields() -> None:
    assert run(DATA)["facts_added"] == 2
    facts = {fact["text"]: fact for fact in athena.semantic.facts()}
    assert facts["Releases are cut on Thursdays"]["metadata"] == {"team": "web"}
    assert facts["Releases are cut on Thursdays"]["importance"] == 0.7
    [event] = athena.episodic.timeline()
    assert (event["text"], event["session"], event["actor"], event["outcome"]) == (
        "cut release 4.1", "rel", "ana", "success")
    assert event["valid_from"] == "2026-03-02T10:00:00+00:00"


def test_importing_again_adds_nothing() -> None:
    assert run(DATA)["facts_skipped"] == 2
    assert len(athena.semantic.facts()) == 2 and len(athena.episodic.timeline()) == 1


def test_other_documents_are_refused() -> None:
    try:
        run({"format": "something else"})
    except ValueError:
        return
    raise AssertionError("a foreign document was imported")
