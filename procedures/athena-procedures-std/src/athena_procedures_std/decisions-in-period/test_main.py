import athena
from main import run


def _arrange() -> None:
    athena.episodic.record("adopt PostgreSQL for the ledger", kind="decision", actor="ana",
                           session="arch", occurred_at="2026-02-03T10:00:00Z",
                           context={"rationale": "transactions and mature tooling",
                                    "alternatives": ["MongoDB", "SQLite"]})
    athena.episodic.record("freeze the public API until the 3.0 release",
                           kind="decision", actor="ben", occurred_at="2026-03-04T10:00:00Z",
                           context={"why": "partners asked for stability"})
    athena.episodic.record("ledger migration started", kind="action",
                           occurred_at="2026-03-05T10:00:00Z")


def test_decisions_in_a_period_with_their_rationale() -> None:
    _arrange()
    march = run(start="2026-03-01T00:00:00Z", end="2026-04-01T00:00:00Z")
    assert [d["decision"] for d in march] == ["freeze the public API until the 3.0 release"]
    assert march[0]["rationale"] == "partners asked for stability"
    assert march[0]["actor"] == "ben"


def test_all_decisions_oldest_first_with_alternatives() -> None:
    _arrange()
    decisions = run()
    assert [d["actor"] for d in decisions] == ["ana", "ben"]
    assert decisions[0]["alternatives"] == ["MongoDB", "SQLite"]
    assert decisions[0]["session"] == "arch"


def test_a_topic_matches_the_text_or_the_rationale() -> None:
    _arrange()
    assert [d["actor"] for d in run(topic="ledger")] == ["ana"]
    assert [d["actor"] for d in run(topic="stability")] == ["ben"]
    assert run(topic="kubernetes") == []


def test_limit() -> None:
    _arrange()
    assert len(run(limit=1)) == 1
