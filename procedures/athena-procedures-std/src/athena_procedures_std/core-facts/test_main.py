import athena
from main import run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    athena.remember("Never deploy on Fridays", importance=0.9)
    athena.remember("The user prefers short answers", importance=0.9)
    athena.remember("The office plant is a ficus", importance=0.1)
    athena.remember("Production is in eu-central-1", importance=0.7)


def test_most_important_first_newer_first_on_ties() -> None:
    _arrange()
    core = run(limit=3)
    assert core["text"].splitlines() == ["- The user prefers short answers",
                                         "- Never deploy on Fridays",
                                         "- Production is in eu-central-1"]
    assert [fact["importance"] for fact in core["facts"]] == [0.9, 0.9, 0.7]


def test_a_minimum_importance_filters() -> None:
    _arrange()
    assert len(run(min_importance=0.5)["facts"]) == 3
    assert len(run()["facts"]) == 4


def test_the_text_fits_max_chars() -> None:
    _arrange()
    core = run(max_chars=40)
    assert core["text"] == "- The user prefers short answers"
    assert len(core["facts"]) == 1
