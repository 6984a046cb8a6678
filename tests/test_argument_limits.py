"""Argument limits: declared once, checked up front, the same on SQLite and PostgreSQL.

Each case is a value one database would store and another refuse, or that would
reach the driver and fail there (an untyped ``OverflowError``, a PostgreSQL
``DataError``). With ``ATHENA_TEST_DATABASE_URL`` set (``tests/run_postgres_tests.py``)
the same cases run against PostgreSQL and must fail the same way.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from athena_core.api import operation
from athena_core.api.limits import ARGUMENT_LIMITS, DEFAULT_LIMITS, ArgumentLimits
from athena_core.api.reference import limits_markdown
from athena_core.errors import InvalidArgumentError
from athena_core.storage.models import EpisodeRow, MemoryRow


def _rows(athena) -> tuple[int, int]:
    with athena.storage.read() as session:
        return (session.scalar(select(func.count()).select_from(MemoryRow)),
                session.scalar(select(func.count()).select_from(EpisodeRow)))


def _refused(call, *fragments: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call()
    for fragment in fragments:
        assert fragment in str(caught.value), (fragment, str(caught.value))


def test_a_huge_offset_is_refused_not_overflowed(athena):
    athena.remember("a fact to page past")
    _refused(lambda: athena.semantic.facts(offset=2**70), "semantic.facts()", "'offset'",
             "2,147,483,647")
    _refused(lambda: athena.semantic.facts(offset=2**63), "'offset'")
    assert len(athena.semantic.facts(offset=0)) == 1
    assert athena.semantic.facts(offset=2**31 - 1) == []


@pytest.mark.parametrize(("argument", "width"), [("kind", 64), ("session", 255),
                                                 ("outcome", 64), ("actor", 255)])
def test_an_over_long_episode_field_is_refused_before_it_reaches_the_database(
        athena, argument, width):
    before = _rows(athena)
    _refused(lambda: athena.episodic.record("deployed", **{argument: "x" * (width + 1)}),
             "episodic.record()", repr(argument), f"limit is {width}")
    assert _rows(athena) == before
    stored = athena.get(athena.episodic.record("deployed", **{argument: "x" * width}))
    assert getattr(stored, argument) == "x" * width
    if argument in athena.api.get("episodic.timeline").signature.parameters:
        _refused(lambda: athena.episodic.timeline(**{argument: "x" * (width + 1)}),
                 "episodic.timeline()", repr(argument))


@pytest.mark.parametrize("call", [
    lambda a: a.remember("x", scope="team\x00a"),
    lambda a: a.recall("x", scope="\x00"),
    lambda a: a.get("01ABCDEFGH\x00", scope="team"),
    lambda a: a.forget(session="s\x00"),
    lambda a: a.episodic.timeline(kind="\x00"),
    lambda a: a.episodic.record("x", session="a\x00b"),
    lambda a: a.episodic.search("x", actor="\x00"),
    lambda a: a.semantic.facts(scope="\x00"),
], ids=["remember-scope", "recall-scope", "get-id", "forget-session", "timeline-kind",
        "record-session", "search-actor", "facts-scope"])
def test_nul_in_any_string_argument_is_refused(athena, call):
    before = _rows(athena)
    _refused(lambda: call(athena), "NUL")
    assert _rows(athena) == before


@pytest.mark.parametrize("call", [
    lambda a: a.get("\ud800"),
    lambda a: a.episodic.record("x", session="\udfff"),
    lambda a: a.forget(session="\ud800"),
    lambda a: a.remember("x", metadata={"\ud800": 1}),
], ids=["get-id", "record-session", "forget-session", "metadata-key"])
def test_a_lone_surrogate_in_any_string_argument_is_refused(athena, call):
    _refused(lambda: call(athena), "surrogate")


def test_integers_beyond_64_bits_and_non_finite_numbers_are_refused(athena):
    _refused(lambda: athena.remember("x", importance=2**2000), "'importance'", "2001-bit")
    _refused(lambda: athena.remember("x", metadata={"n": 2**64}), "'metadata'")
    _refused(lambda: athena.recall("x", metadata={"n": float("inf")}), "finite")
    _refused(lambda: athena.recall("x", k=2**70), "'k'", "between 1 and 1,000")
    assert _rows(athena) == (0, 0)


def test_nesting_size_and_keys_are_bounded(athena):
    deep: list = []
    for _ in range(40):
        deep = [deep]
    _refused(lambda: athena.remember("x", metadata={"d": deep}), "nested more than 32")
    _refused(lambda: athena.forget([f"{n:026d}" for n in range(10_001)]), "10,000 items")
    _refused(lambda: athena.remember("x", metadata={"a": {1: "one"}}), "dict key")
    loop: dict = {}
    loop["self"] = loop
    _refused(lambda: athena.recall("x", metadata=loop), "nested")
    assert _rows(athena) == (0, 0)


def test_timestamps_past_the_representable_range_are_refused(athena):
    _refused(lambda: athena.recall("x", as_of="9999-12-31T23:30:00-05:00"), "as_of")
    _refused(lambda: athena.episodic.timeline(start=datetime.max.replace(tzinfo=None)
                                              .isoformat() + "-10:00"), "start")


def test_an_operation_declares_its_own_limits_which_win(athena_factory):
    @operation(limits={"label": ArgumentLimits(max_chars=5), "kind": ArgumentLimits(max_chars=3)})
    def tag(owner, label: str, kind: str, note: str = "") -> str:
        """Tag something."""
        return label

    athena = athena_factory()
    athena.api.add_function("demo.tag", tag, owner=athena, provider="test")
    assert athena.demo.tag("short", "abc") == "short"
    _refused(lambda: athena.demo.tag("longer", "abc"), "'label'", "limit is 5")
    _refused(lambda: athena.demo.tag("a", "abcd"), "'kind'", "limit is 3")
    _refused(lambda: athena.demo.tag("a", "b", note="n" * (DEFAULT_LIMITS.max_chars + 1)),
             "'note'")


def test_every_argument_of_every_operation_has_declared_limits(athena):
    """The table names only arguments that some registered operation has; an operation
    that declares its own limits for an argument (procedure ids are longer than memory
    ids) has them documented in docs/api.md."""
    from athena_core.api.reference import render_markdown

    names = {p for op in athena.api for p in op.signature.parameters}
    assert set(ARGUMENT_LIMITS) <= names, set(ARGUMENT_LIMITS) - names
    reference = render_markdown(athena.api)
    for op in athena.api:
        for name in op.signature.parameters:
            own = op.spec.limits.get(name)
            assert op.spec.limits_for(name) is (own or ARGUMENT_LIMITS.get(name,
                                                                            DEFAULT_LIMITS))
            if own is not None:
                section = reference.split(f"### `{op.name}`\n", 1)[1].split("\n### ", 1)[0]
                assert f"- `{name}`: strings of at most {own.max_chars:,} characters" \
                    in section, (op.name, name)
    assert athena.api.get("procedures.show").spec.limits_for("id").max_chars == 129


def test_docs_list_the_declared_limits():
    docs = (Path(__file__).parent.parent / "docs" / "api.md").read_text()
    assert limits_markdown() in docs, (
        "docs/api.md is stale: python -m athena_core.api.reference > docs/api.md")
