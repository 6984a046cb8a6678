import athena
from main import run


def test_a_decision_is_remembered_as_a_fact() -> None:
    result = run("deploys", "deploy through staging", "staging catches config drift")
    [hit] = athena.recall("deploy through staging", k=1)
    assert hit.id == result["id"]
    assert hit.text == ("Decision on deploys: deploy through staging "
                        "(because staging catches config drift)")
    assert hit.metadata["kind"] == "decision"


def test_earlier_decisions_on_the_subject_are_returned() -> None:
    run("backups", "keep thirty days", "the audit asks for a month")
    later = run("backups", "keep ninety days", "a quarter is needed now")
    assert later["earlier"][0] == ("Decision on backups: keep thirty days "
                                   "(because the audit asks for a month)")


def test_other_memories_are_not_decisions() -> None:
    athena.remember("backups run at night")
    result = run("backups", "run them at noon", "the night window is full")
    assert "backups run at night" not in result["earlier"]


def test_a_blank_decision_is_refused() -> None:
    try:
        run("deploys", "  ", "no reason")
    except ValueError:
        return
    raise AssertionError("a blank decision was accepted")
