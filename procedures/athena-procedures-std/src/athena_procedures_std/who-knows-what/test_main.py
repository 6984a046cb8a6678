import athena
from main import run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    for day, text in enumerate(["upgraded the kubernetes cluster to 1.30",
                                "debugged kubernetes ingress timeouts",
                                "wrote the kubernetes autoscaling runbook"], 1):
        athena.episodic.record(text, actor="alice", kind="action",
                               occurred_at=f"2026-03-0{day}T10:00:00Z")
    athena.episodic.record("reconciled the billing invoices", actor="bob",
                           occurred_at="2026-03-04T10:00:00Z")
    athena.episodic.record("answered a billing question from finance", actor="bob",
                           kind="message", occurred_at="2026-03-05T10:00:00Z")
    athena.episodic.record("an event nobody claimed", occurred_at="2026-03-06T10:00:00Z")


def test_the_actor_who_worked_on_a_topic_comes_first() -> None:
    _arrange()
    ranked = run("kubernetes cluster")
    assert ranked[0]["actor"] == "alice"
    assert "kubernetes" in ranked[0]["keywords"]


def test_without_a_topic_every_actor_with_keywords() -> None:
    _arrange()
    ranked = {entry["actor"]: entry for entry in run()}
    assert set(ranked) == {"alice", "bob"}
    assert ranked["alice"]["events"] == 3 and ranked["bob"]["events"] == 2
    assert ranked["alice"]["keywords"][0] == "kubernetes"
    assert ranked["bob"]["keywords"][0] == "billing"
    assert ranked["bob"]["kinds"] == {"observation": 1, "message": 1}
    assert ranked["bob"]["last_seen"].startswith("2026-03-05")


def test_top_limits_samples_and_keywords() -> None:
    _arrange()
    alice = next(entry for entry in run(top=1) if entry["actor"] == "alice")
    assert len(alice["samples"]) == 1 and len(alice["keywords"]) == 1
