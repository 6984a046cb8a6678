import athena
from main import run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    athena.episodic.record("evaluated payment gateway vendors", kind="action",
                           actor="ana", occurred_at="2026-01-10T10:00:00Z")
    athena.episodic.record("payment gateway outage during checkout", kind="error",
                           occurred_at="2026-02-14T10:00:00Z")
    fact = athena.remember("The payment gateway is Stripe")
    athena.semantic.update(fact, "The payment gateway is Adyen", reason="vendor switch")


def test_events_and_fact_versions_are_in_time_order() -> None:
    _arrange()
    entries = run("payment gateway")
    times = [entry["at"] for entry in entries]
    assert times == sorted(times)
    texts = [entry["text"] for entry in entries if "payment" in entry["text"].lower()]
    assert texts == ["evaluated payment gateway vendors",
                     "payment gateway outage during checkout",
                     "The payment gateway is Stripe", "The payment gateway is Adyen"]


def test_a_changed_fact_says_what_it_was_and_why() -> None:
    _arrange()
    [changed] = [entry for entry in run("payment gateway") if entry["type"] == "fact changed"]
    assert changed["was"] == "The payment gateway is Stripe"
    assert changed["reason"] == "vendor switch" and changed["current"]


def test_each_fact_lineage_appears_once() -> None:
    _arrange()
    facts = [entry for entry in run("payment gateway Stripe Adyen")
             if entry["type"] != "event"]
    assert len(facts) == 2


def test_events_only() -> None:
    _arrange()
    entries = run("payment gateway", include_facts=False)
    assert {entry["type"] for entry in entries} == {"event"}
    assert entries[0]["actor"] == "ana"
