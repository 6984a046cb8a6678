import athena
from main import run

_IDS: list[str] = []


def _arrange() -> None:
    if _IDS:
        return
    first = athena.remember("The support rota starts with Ana")
    _IDS.append(first)
    _IDS.append(athena.semantic.update(first, "The support rota starts with Ben"))


def test_the_old_version_held_when_it_was_written() -> None:
    _arrange()
    written = athena.semantic.history(_IDS[0])[0]["valid_from"]
    [fact] = run(written)
    assert fact["text"] == "The support rota starts with Ana"
    assert not fact["still_current"] and fact["to"] is not None


def test_now_the_new_version_holds() -> None:
    _arrange()
    [fact] = run("2999-01-01T00:00:00+00:00")
    assert fact["text"] == "The support rota starts with Ben" and fact["still_current"]


def test_a_topic_searches_the_facts_of_that_moment() -> None:
    _arrange()
    written = athena.semantic.history(_IDS[0])[0]["valid_from"]
    assert [f["text"] for f in run(written, topic="support rota")] == [
        "The support rota starts with Ana"]
    assert run("2000-01-01T00:00:00+00:00", topic="support rota") == []
