"""Episodic memory: events, dedup of exact repeats, timelines and search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_record_and_timeline_in_order(athena) -> None:
    ids = [athena.episodic.record(f"step {i}", occurred_at=T0 + timedelta(minutes=i),
                                  session="s1", kind="action") for i in (2, 0, 1)]
    timeline = athena.episodic.timeline(session="s1")
    assert [e.content for e in timeline] == ["step 0", "step 1", "step 2"]
    assert {e.id for e in timeline} == set(ids)
    assert [e.content for e in athena.episodic.timeline(session="s1", order="desc", limit=2)] == [
        "step 2", "step 1"]


def test_exact_repeats_are_deduplicated(athena) -> None:
    first = athena.episodic.record("ran tests", occurred_at=T0, session="s", context={"a": 1})
    again = athena.episodic.record("ran tests", occurred_at=T0, session="s", context={"a": 1})
    other_time = athena.episodic.record("ran tests", occurred_at=T0 + timedelta(seconds=1),
                                        session="s", context={"a": 1})
    other_scope = athena.episodic.record("ran tests", occurred_at=T0, session="s",
                                         context={"a": 1}, scope="elsewhere")
    assert first == again
    assert len({first, other_time, other_scope}) == 3
    assert len(athena.episodic.timeline(session="s")) == 2


def test_timeline_filters(athena) -> None:
    athena.episodic.record("deployed web", occurred_at=T0, kind="deployment",
                           outcome="success", context={"service": "web"})
    athena.episodic.record("deployed api", occurred_at=T0 + timedelta(hours=1), kind="deployment",
                           outcome="failure", context={"service": "api"})
    athena.episodic.record("wrote docs", occurred_at=T0 + timedelta(hours=2), kind="action")
    assert [e.content for e in athena.episodic.timeline(kind="deployment")] == [
        "deployed web", "deployed api"]
    assert [e.content for e in athena.episodic.timeline(context={"service": "api"})] == [
        "deployed api"]
    window = athena.episodic.timeline(start=T0 + timedelta(minutes=30),
                                      end=T0 + timedelta(hours=2))
    assert [e.content for e in window] == ["deployed api"]
    [failed] = athena.episodic.timeline(context={"service": "api"})
    assert (failed.kind, failed.outcome, failed.context) == ("deployment", "failure",
                                                             {"service": "api"})


def test_search_with_time_and_session_restrictions(athena) -> None:
    athena.episodic.record("database migration failed", occurred_at=T0, session="a")
    athena.episodic.record("database migration succeeded", occurred_at=T0 + timedelta(days=1),
                           session="b")
    athena.remember("database migrations need a backup first")  # semantic, not an episode
    hits = athena.episodic.search("database migration")
    assert {h.layer for h in hits} == {"episodic"} and len(hits) == 2
    assert [h.text for h in athena.episodic.search("database migration", session="b")] == [
        "database migration succeeded"]
    assert [h.text for h in athena.episodic.search("migration", end=T0 + timedelta(hours=1))] == [
        "database migration failed"]


def test_remember_with_layer_episodic(athena) -> None:
    event = athena.remember("noticed flaky test", layer="episodic", metadata={"test": "t1"})
    [episode] = athena.episodic.timeline()
    assert episode.id == event and episode.context == {"test": "t1"}
    assert {h.layer for h in athena.recall("flaky test")} == {"episodic"}
    assert athena.recall("flaky test", layers=["semantic"]) == []
