import athena
from main import run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    first = athena.remember("The primary region is us-east-1")
    second = athena.semantic.update(first, "The primary region is eu-west-1",
                                    reason="data residency")
    athena.semantic.update(second, "The primary region is eu-central-1", reason="latency")


def test_every_version_with_its_reason_oldest_first() -> None:
    _arrange()
    [lineage] = run("primary region")
    assert lineage["current"] == "The primary region is eu-central-1"
    assert lineage["changes"] == 2
    assert [v["text"] for v in lineage["versions"]] == [
        "The primary region is us-east-1", "The primary region is eu-west-1",
        "The primary region is eu-central-1"]
    assert [v["superseded_because"] for v in lineage["versions"]] == [
        "data residency", "latency", None]


def test_validity_periods_follow_each_other() -> None:
    _arrange()
    versions = run("primary region")[0]["versions"]
    assert versions[0]["to"] == versions[1]["from"] and versions[2]["to"] is None


def test_a_fact_never_changed_has_one_version() -> None:
    _arrange()
    athena.remember("Coffee is on the third floor")
    [coffee] = [lineage for lineage in run("coffee third floor", k=2)
                if lineage["current"] == "Coffee is on the third floor"]
    assert coffee["changes"] == 0 and len(coffee["versions"]) == 1
