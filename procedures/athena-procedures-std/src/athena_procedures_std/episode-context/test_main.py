import athena
from main import run

_IDS: dict[str, str] = {}


def _arrange() -> None:
    if _IDS:
        return
    for minute, text in enumerate(["pulled main", "ran the migrations", "ran the tests",
                                   "tests failed: missing column", "added the column",
                                   "tests passed"]):
        _IDS[text] = athena.episodic.record(text, session="dev",
                                            occurred_at=f"2026-03-01T10:0{minute}:00Z")
    athena.episodic.record("elsewhere", session="other", occurred_at="2026-03-01T10:03:00Z")


def test_what_led_up_to_an_event_and_what_followed() -> None:
    _arrange()
    context = run(_IDS["tests failed: missing column"], before=2, after=2)
    assert context["found"]
    assert [e["text"] for e in context["before"]] == ["ran the migrations", "ran the tests"]
    assert [e["text"] for e in context["after"]] == ["added the column", "tests passed"]


def test_the_edges_of_a_session() -> None:
    _arrange()
    context = run(_IDS["pulled main"])
    assert context["before"] == [] and len(context["after"]) == 3
    assert run(_IDS["tests passed"], after=0)["after"] == []


def test_a_fact_or_an_unknown_id_is_not_an_episode() -> None:
    fact = athena.remember("a fact, not an event")
    assert run(fact)["found"] is False
    assert run("01M97Q81EZ0QXZ8SJABWBEPQRX")["found"] is False
