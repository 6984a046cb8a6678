import athena
from main import run

EMPTY = {"facts": 0, "changed_facts": 0, "fact_versions": 0, "episodes": 0, "kinds": {},
         "actors": {}, "sessions": {}, "metadata_keys": {}, "first_event": None,
         "last_event": None, "mean_fact_importance": None}


def test_an_empty_scope() -> None:
    assert run() == EMPTY


def test_counts_of_facts_versions_and_episodes() -> None:
    fact = athena.remember("Builds run on Linux", metadata={"team": "ci"}, importance=0.4)
    athena.semantic.update(fact, "Builds run on Linux and macOS")
    athena.remember("The cache is in S3", metadata={"team": "ci", "tier": 2},
                    importance=0.8)
    athena.episodic.record("cache miss storm", kind="error", session="s", actor="ana",
                           occurred_at="2026-03-01T10:00:00Z")
    athena.episodic.record("warmed the cache", session="s", actor="ana",
                           context={"team": "ci"}, occurred_at="2026-03-02T10:00:00Z")
    athena.episodic.record("looked at graphs", actor="ben",
                           occurred_at="2026-03-03T10:00:00Z")
    stats = run()
    assert (stats["facts"], stats["changed_facts"], stats["fact_versions"]) == (2, 1, 3)
    assert stats["episodes"] == 3
    assert stats["kinds"] == {"observation": 2, "error": 1}
    assert stats["actors"] == {"ana": 2, "ben": 1} and stats["sessions"] == {"s": 2}
    assert stats["metadata_keys"] == {"team": 3, "tier": 1}
    assert stats["first_event"].startswith("2026-03-01")
    assert stats["last_event"].startswith("2026-03-03")
    assert stats["mean_fact_importance"] == 0.6


def test_top_limits_each_breakdown() -> None:
    assert len(run(top=1)["kinds"]) == 1
