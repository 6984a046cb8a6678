import athena
from main import run

_IDS: dict[str, str] = {}


def _arrange() -> None:
    if _IDS:
        return
    _IDS["db"] = athena.remember("The orders database is PostgreSQL")
    athena.remember("The orders database is backed up every night")
    athena.remember("Orders older than a year are archived")
    _IDS["event"] = athena.episodic.record("the orders database ran out of connections",
                                           kind="error")


def test_related_facts_leave_the_fact_itself_out() -> None:
    _arrange()
    found = run(_IDS["db"], k=5)
    texts = [fact["text"] for fact in found["related"]]
    assert found["text"] == "The orders database is PostgreSQL"
    assert "The orders database is PostgreSQL" not in texts
    assert "The orders database is backed up every night" in texts
    assert all(fact["id"] != _IDS["event"] for fact in found["related"])


def test_an_event_finds_the_facts_about_it() -> None:
    _arrange()
    found = run(_IDS["event"], k=2)
    assert found["layer"] == "episodic" and len(found["related"]) <= 2
    assert "The orders database is PostgreSQL" in [f["text"] for f in run(_IDS["event"])[
        "related"]]


def test_older_versions_of_the_fact_are_left_out() -> None:
    _arrange()
    new = athena.semantic.update(_IDS["db"], "The orders database is PostgreSQL 16")
    texts = [fact["text"] for fact in run(new)["related"]]
    assert "The orders database is PostgreSQL" not in texts
    assert "The orders database is PostgreSQL 16" not in texts


def test_an_unknown_id_is_not_found() -> None:
    assert run("01M97Q81EZ0QXZ8SJABWBEPQRX") == {
        "id": "01M97Q81EZ0QXZ8SJABWBEPQRX", "found": False, "text": None, "layer": None,
        "related": []}
