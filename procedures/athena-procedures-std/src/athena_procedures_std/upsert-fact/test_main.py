import athena
from main import run


def test_created_then_unchanged_then_updated() -> None:
    first = run("deploy-day", "Deploys happen on Tuesdays")
    assert first["action"] == "created"
    assert run("deploy-day", "Deploys happen on Tuesdays") == {
        "id": first["id"], "action": "unchanged", "previous": None}
    changed = run("deploy-day", "Deploys happen on Wednesdays", reason="team moved")
    assert changed["action"] == "updated"
    assert changed["previous"] == "Deploys happen on Tuesdays"
    versions = athena.semantic.history(changed["id"])
    assert [v["text"] for v in versions] == ["Deploys happen on Tuesdays",
                                             "Deploys happen on Wednesdays"]
    assert versions[0]["supersede_reason"] == "team moved"


def test_keys_are_kept_apart() -> None:
    run("on-call", "Ana is on call")
    run("deploy-day", "Deploys happen on Fridays")
    texts = sorted(fact["text"] for fact in athena.semantic.facts())
    assert texts == ["Ana is on call", "Deploys happen on Fridays"]


def test_two_facts_with_one_key_are_refused() -> None:
    athena.remember("duplicate one", metadata={"key": "dup"})
    athena.remember("duplicate two", metadata={"key": "dup"})
    try:
        run("dup", "three")
    except ValueError:
        return
    raise AssertionError("a key held by two facts was updated")
