"""Work that paths run after every operation skip, and why each skip loses nothing:
the database's commit counter, the one-row reads beside it, and detectors not searching
texts shorter than anything they can match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select

from athena_core import Athena, calls
from athena_core.api import ApiRegistry, operation
from athena_core.privacy.detector import Rule, RuleDetector, shortest_match
from athena_core.storage.models import MemoryRow
from tests.conftest import _empty_database, make_config


@pytest.fixture(autouse=True)
def empty_database() -> None:
    _empty_database()


def test_the_commit_counter_moves_on_another_instances_commit_only(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Athena.open(config=config) as here, Athena.open(config=config) as there:
        storage = here._require_store().storage
        if storage.dialect != "sqlite":
            assert storage.commit_counter() is None  # callers read again every time
            return
        before = storage.commit_counter()
        here.recall("nothing written by reading")
        assert storage.commit_counter() == before
        there.remember("written elsewhere")
        after = storage.commit_counter()
        assert after != before
        here.remember("written here")  # through the store's own connections
        assert storage.commit_counter() != after


def test_peek_reads_what_a_snapshot_reads(tmp_path: Path) -> None:
    with Athena.open(config=make_config(tmp_path)) as athena:
        storage = athena._require_store().storage
        memory = athena.remember("peeked")
        statement = select(MemoryRow.text).where(MemoryRow.id == bindparam("id")).limit(1)
        assert storage.peek(statement, {"id": memory}) == ("peeked",)
        assert storage.peek(statement, {"id": "no-such-id"}) is None
        athena.remember("another")  # the compiled statement is reused after a commit
        assert storage.peek(statement, {"id": memory}) == ("peeked",)


@pytest.mark.parametrize(("pattern", "shortest"), [
    (r"\d{3}-\d{2}-\d{4}", 11), (r"ghp_[A-Za-z0-9]{36}", 40), (r"a?b*", 0),
    (r"(?:ab|c)d", 2), (r"[^@\s]+@[^@\s]+\.\w{2,}", 6)])
def test_shortest_match_is_the_shortest_text_a_pattern_matches(pattern: str,
                                                               shortest: int) -> None:
    assert shortest_match(re.compile(pattern)) == shortest


def test_a_detector_skips_only_texts_shorter_than_any_match() -> None:
    detector = RuleDetector("d", (Rule("code", re.compile(r"Z\d{3}")),
                                  Rule("long", re.compile(r"Q\d{9}"))))
    assert detector.shortest == 4
    assert detector.detect("Z12") == []
    assert [span.type for span in detector.detect("Z123")] == ["code"]
    assert [span.type for span in detector.detect("Q123456789")] == ["long"]


def test_a_no_op_result_is_not_searched_but_a_short_sensitive_one_is(tmp_path: Path) -> None:
    with Athena.open(config=make_config(tmp_path)) as athena:
        assert athena.privacy.scan("x") == []
        assert [span["type"] for span in athena.privacy.scan("ip 10.1.2.3")] == ["ipv4"]


class _Owner:
    api_namespace = "t"

    def __init__(self, order: list[str]) -> None:
        self.order = order

    @operation(permissions="read")
    def work(self) -> str:
        calls.after_call(lambda: self.order.append("deferred"))
        self.order.append("returned")
        return "done"


def test_work_deferred_by_an_operation_runs_after_it_returned_and_was_announced() -> None:
    """What an operation defers (the next sandbox's start, after an execution) waits
    for the whole call, its announcement to operation triggers included, and runs even
    when the call is through the registry; outside any call it runs at once."""
    order: list[str] = []
    registry = ApiRegistry()
    owner = _Owner(order)
    registry.collect(owner, namespace="t", provider="test")
    registry.observer = lambda name: order.append(f"announced {name}")
    assert registry.get("t.work")() == "done"
    assert order == ["returned", "announced t.work", "deferred"]
    order.clear()
    calls.after_call(lambda: order.append("now"))
    assert order == ["now"]
