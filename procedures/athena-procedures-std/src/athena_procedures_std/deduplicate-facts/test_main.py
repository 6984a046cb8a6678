import athena
from main import run

_ARRANGED: list[str] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(athena.remember("The API rate limit is 100 requests per minute",
                                     metadata={"source": "runbook"}))
    athena.remember("the API rate limit is 100 requests per minute.", importance=0.8)
    athena.remember("API rate limit: 100 requests per minute", metadata={"team": "api"})
    athena.remember("The API rate limit is 500 requests per hour for partners")
    athena.remember("Backups run nightly at 02:00")


def test_duplicates_are_reported_and_nothing_changes() -> None:
    _arrange()
    report = run()
    assert report["facts_compared"] == 5 and report["merged"] == 0
    [group] = report["groups"]
    texts = {group["keep"]["text"]} | {d["text"] for d in group["duplicates"]}
    assert texts == {"The API rate limit is 100 requests per minute",
                     "the API rate limit is 100 requests per minute.",
                     "API rate limit: 100 requests per minute"}
    assert group["keep"]["text"] == "the API rate limit is 100 requests per minute."
    assert len(athena.semantic.facts()) == 5


def test_a_lower_threshold_groups_more() -> None:
    _arrange()
    [group] = run(threshold=0.4)["groups"]
    assert len(group["duplicates"]) == 3


def test_merge_keeps_one_fact_with_the_metadata_of_all() -> None:
    _arrange()
    report = run(merge=True)
    assert report["merged"] == 2
    texts = sorted(fact["text"] for fact in athena.semantic.facts())
    assert texts == ["Backups run nightly at 02:00",
                     "The API rate limit is 500 requests per hour for partners",
                     "the API rate limit is 100 requests per minute."]
    kept = athena.get(report["groups"][0]["keep"]["id"])
    assert kept["metadata"]["source"] == "runbook" and kept["metadata"]["team"] == "api"
    assert len(kept["metadata"]["merged_from"]) == 2
    assert athena.semantic.history(kept["id"])[-1]["supersede_reason"] is None
    assert athena.semantic.history(kept["id"])[0]["supersede_reason"] == "merged 2 duplicates"
    assert run()["groups"] == []
