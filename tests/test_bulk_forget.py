"""forget() in bulk: by session, time range, metadata and whole scope, in one call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from athena_core.errors import InvalidArgumentError, MemoryNotFoundError
from tests.test_hard_forget import canary, files_containing, sqlite_only


@pytest.fixture
def athena(athena_factory):
    return athena_factory()


def _day(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


def _texts(athena, scope: str = "default") -> set[str]:
    return {f.text for f in athena.semantic.facts(scope=scope)} | {
        e.content for e in athena.episodic.timeline(scope=scope)}


def test_forget_a_session(athena) -> None:
    athena.episodic.record("s1 first", session="s1", occurred_at=_day(1))
    athena.episodic.record("s1 second", session="s1", occurred_at=_day(2))
    athena.episodic.record("s2 other", session="s2", occurred_at=_day(2))
    athena.episodic.record("s1 in another scope", session="s1", scope="other")
    assert athena.forget(session="s1") == 2
    assert _texts(athena) == {"s2 other"}
    assert _texts(athena, "other") == {"s1 in another scope"}


def test_forget_a_time_range_takes_every_version_of_a_fact(athena) -> None:
    athena.episodic.record("early", occurred_at=_day(1))
    athena.episodic.record("middle", occurred_at=_day(5))
    athena.episodic.record("late", occurred_at=_day(9))
    fact = athena.remember("a fact stored now")
    athena.semantic.update(fact, "its second version")
    assert athena.forget(start=_day(4), end=_day(6)) == 1
    assert _texts(athena) == {"early", "late", "its second version"}
    # The first version falls in the range: the whole fact goes.
    assert athena.forget(start=datetime.now(UTC) - timedelta(hours=1)) == 2
    assert _texts(athena) == {"early", "late"}


def test_forget_by_metadata_and_combined_selectors(athena) -> None:
    athena.remember("from the runbook", metadata={"source": "runbook"})
    athena.remember("from chat", metadata={"source": "chat"})
    athena.episodic.record("runbook step in s1", session="s1", context={"source": "runbook"})
    assert athena.forget(metadata={"source": "runbook"}, session="s1") == 1
    assert athena.forget(metadata={"source": "runbook"}) == 1
    assert _texts(athena) == {"from chat"}


def test_forget_everything_in_one_scope_only(athena) -> None:
    for i in range(30):
        athena.remember(f"note {i}", scope="gone")
    kept = athena.remember("note kept", scope="kept")
    assert athena.forget(everything=True, scope="gone") == 30
    assert athena.recall("note", scope="gone") == []
    assert athena.get(kept, scope="kept").text == "note kept"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "needs ids, or a bulk selector"),
    ({"ids": []}, "empty list"),
    ({"everything": True, "session": "s1"}, "no other selector"),
    ({"start": _day(5), "end": _day(1)}, "start must be before end"),
    ({"metadata": {"k": [1]}}, "only strings, numbers"),
])
def test_bad_selectors_are_refused_and_delete_nothing(athena, kwargs, message) -> None:
    athena.remember("survivor")
    with pytest.raises(InvalidArgumentError, match=message):
        athena.forget(**kwargs)
    assert _texts(athena) == {"survivor"}


def test_an_id_outside_the_other_selectors_deletes_nothing(athena) -> None:
    mid = athena.episodic.record("in s2", session="s2")
    with pytest.raises(MemoryNotFoundError, match="matching the other selectors"):
        athena.forget(mid, session="s1")
    assert _texts(athena) == {"in s2"}


@sqlite_only
def test_bulk_forget_leaves_no_trace(athena, data_dir) -> None:
    tokens = [canary() for _ in range(3)]
    for token in tokens:
        athena.episodic.record(f"event {token}", session="secret")
    athena.remember("neighbour that stays")
    assert athena.forget(session="secret") == 3
    athena.checkpoint()
    for token in tokens:
        assert files_containing(data_dir, token) == [], token


def test_cli_forget_in_bulk(data_dir, capsys) -> None:
    from athena_core import Athena
    from athena_core.cli import main

    with Athena.open(data_dir) as athena:  # the data dir the CLI opens (its own database)
        athena.episodic.record("cli s1 event", session="s1")
        athena.remember("stays")
    home = ["--home", str(data_dir)]
    assert main(["forget", "--session", "s1", "--json", *home]) == 0
    assert '"deleted": 1' in capsys.readouterr().out
    assert main(["forget", *home]) == 1
    assert "bulk selector" in capsys.readouterr().err
