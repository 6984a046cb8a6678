import athena
from main import run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    athena.remember("The billing service is deployed with the blue-green script")
    athena.remember("Billing invoices are generated at midnight UTC")
    athena.episodic.record("billing deploy failed: the blue slot had no database grant",
                           kind="error", occurred_at="2026-02-10T10:00:00Z")
    athena.episodic.record("use a separate database role for the billing service",
                           kind="decision", occurred_at="2026-02-11T10:00:00Z")
    athena.episodic.record("reviewed the billing dashboards",
                           occurred_at="2026-02-12T10:00:00Z")


def test_the_pack_has_facts_decisions_pitfalls_and_events() -> None:
    _arrange()
    pack = run("deploy the billing service")
    text = pack["text"]
    assert text.startswith("# Context for: deploy the billing service")
    assert "- The billing service is deployed with the blue-green script" in text
    assert "## Past decisions\n- 2026-02-11: use a separate database role" in text
    assert "## Known pitfalls\n- 2026-02-10: billing deploy failed" in text
    assert [item["text"] for item in pack["events"]] == ["reviewed the billing dashboards"]
    assert not pack["truncated"]


def test_an_event_appears_in_one_section_only() -> None:
    _arrange()
    pack = run("billing")
    assert pack["text"].count("blue slot had no database grant") == 1


def test_the_text_fits_the_budget() -> None:
    _arrange()
    pack = run("deploy the billing service", max_chars=120)
    assert pack["truncated"] and len(pack["text"]) <= 120
    assert pack["text"].startswith("# Context for")


def test_k_bounds_each_section() -> None:
    _arrange()
    assert len(run("billing", k=1)["facts"]) == 1
