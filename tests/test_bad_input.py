"""Wrong input to any public operation: a typed error that says what is wrong, no damage.

Every case runs against a store that already holds memories of each layer (and
a fact with two versions); after the failed call all of them must still be
there, unchanged and findable, and nothing half-written may have been added.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from athena_core.errors import AthenaError, InvalidArgumentError, MemoryNotFoundError

# --- the store every case starts from ---------------------------------------------------

BASELINE_TEXTS = {
    "plain": "the staging server runs on port 8443 xylophone",
    "tagged": "deploys happen on tuesdays marimba",
    "event": "user asked to rename the billing module glockenspiel",
    "fact_v1": "the team lead is alice vibraphone",
    "fact_v2": "the team lead is bob vibraphone",
}
UNIQUE_WORD = {"plain": "xylophone", "tagged": "marimba", "event": "glockenspiel",
               "fact_v2": "vibraphone"}


@pytest.fixture
def stored(athena_factory) -> tuple[Any, dict[str, str]]:
    # No fsync per commit: these tests are about arguments, not durability.
    athena = athena_factory(storage={"synchronous": "normal"})
    ids = {
        "plain": athena.remember(BASELINE_TEXTS["plain"]),
        "tagged": athena.remember(BASELINE_TEXTS["tagged"], metadata={"team": "ops", "n": 3},
                                  importance=0.9),
        "event": athena.episodic.record(BASELINE_TEXTS["event"], session="s1",
                                        kind="conversation"),
        "fact_v1": athena.remember(BASELINE_TEXTS["fact_v1"]),
    }
    ids["fact_v2"] = athena.semantic.update(ids["fact_v1"], BASELINE_TEXTS["fact_v2"],
                                            reason="new lead")
    return athena, ids


def assert_intact(athena: Any, ids: dict[str, str]) -> None:
    """Every baseline memory is still there and findable, and nothing was added."""
    for name, memory_id in ids.items():
        assert athena.get(memory_id).text == BASELINE_TEXTS[name], name
    for name, word in UNIQUE_WORD.items():
        assert [h.id for h in athena.recall(word)] == [ids[name]], name
    assert athena.get(ids["tagged"]).metadata == {"team": "ops", "n": 3}
    assert athena.get(ids["tagged"]).importance == 0.9
    assert {f.id for f in athena.semantic.facts(limit=10_000)} == {
        ids["plain"], ids["tagged"], ids["fact_v2"]}
    assert [e.id for e in athena.episodic.timeline(limit=10_000)] == [ids["event"]]
    assert [f.id for f in athena.semantic.history(ids["fact_v1"])] == [ids["fact_v1"],
                                                                       ids["fact_v2"]]
    assert athena.get(ids["fact_v1"]).valid_to is not None
    assert athena.get(ids["fact_v2"]).valid_to is None


def circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def deeply_nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return outer


Call = Callable[[Any, dict[str, str]], Any]


def case(call: Call, error: type[AthenaError], *fragments: str, id: str) -> Any:
    return pytest.param(call, error, fragments, id=id)


INVALID = InvalidArgumentError
NOT_FOUND = MemoryNotFoundError

CASES = [
    # remember: text
    case(lambda a, i: a.remember(123), INVALID, "text", "string", id="remember-text-int"),
    case(lambda a, i: a.remember(None), INVALID, "text", id="remember-text-none"),
    case(lambda a, i: a.remember(b"bytes"), INVALID, "text", id="remember-text-bytes"),
    case(lambda a, i: a.remember(""), INVALID, "text", "empty", id="remember-empty"),
    case(lambda a, i: a.remember(" \n\t  "), INVALID, "text", "empty", id="remember-whitespace"),
    case(lambda a, i: a.remember("bad \ud800 text"), INVALID, "text", "surrogate",
         id="remember-lone-surrogate"),
    case(lambda a, i: a.remember("\udfff"), INVALID, "surrogate", id="remember-only-surrogate"),
    case(lambda a, i: a.remember("nul \x00 inside"), INVALID, "text", "NUL", id="remember-nul"),
    # remember: metadata
    case(lambda a, i: a.remember("x", metadata="team=ops"), INVALID, "metadata",
         id="metadata-str"),
    case(lambda a, i: a.remember("x", metadata=["team", "ops"]), INVALID, "metadata",
         id="metadata-list"),
    case(lambda a, i: a.remember("x", metadata={"when": datetime.now(UTC)}), INVALID,
         "metadata", "JSON", id="metadata-datetime"),
    case(lambda a, i: a.remember("x", metadata={"obj": object()}), INVALID, "metadata",
         "JSON", id="metadata-object"),
    case(lambda a, i: a.remember("x", metadata={"score": math.nan}), INVALID, "metadata",
         id="metadata-nan"),
    case(lambda a, i: a.remember("x", metadata={"score": {"deep": math.inf}}), INVALID,
         "metadata", id="metadata-inf"),
    case(lambda a, i: a.remember("x", metadata=circular()), INVALID, "metadata",
         id="metadata-circular"),
    case(lambda a, i: a.remember("x", metadata={"nested": deeply_nested(5_000)}), INVALID,
         "metadata", id="metadata-too-deep"),
    case(lambda a, i: a.remember("x", metadata={"blob": "a" * 70_000}), INVALID, "metadata",
         "64,000", id="metadata-too-large"),
    case(lambda a, i: a.remember("x", metadata={1: "one"}), INVALID, "metadata", "key",
         id="metadata-int-key"),
    # remember: importance, scope, layer, arguments
    case(lambda a, i: a.remember("x", importance=2.0), INVALID, "importance", "between 0 and 1",
         id="importance-2"),
    case(lambda a, i: a.remember("x", importance=-0.1), INVALID, "importance",
         id="importance-negative"),
    case(lambda a, i: a.remember("x", importance=math.nan), INVALID, "importance",
         id="importance-nan"),
    case(lambda a, i: a.remember("x", importance=math.inf), INVALID, "importance",
         id="importance-inf"),
    case(lambda a, i: a.remember("x", importance="high"), INVALID, "importance",
         id="importance-str"),
    case(lambda a, i: a.remember("x", importance=True), INVALID, "importance",
         id="importance-bool"),
    case(lambda a, i: a.remember("x", scope=""), INVALID, "scope", id="scope-empty"),
    case(lambda a, i: a.remember("x", scope="   "), INVALID, "scope", id="scope-whitespace"),
    case(lambda a, i: a.remember("x", scope="s" * 256), INVALID, "scope", "255",
         id="scope-too-long"),
    case(lambda a, i: a.remember("x", scope=7), INVALID, "scope", id="scope-int"),
    case(lambda a, i: a.remember("x", colour="red"), INVALID, "colour", id="remember-unknown-kw"),
    case(lambda a, i: a.remember("x", "episodic"), INVALID, "remember", id="remember-positional"),
    case(lambda a, i: a.remember(), INVALID, "text", id="remember-no-text"),
    case(lambda a, i: a.remember("x", layer="nope"), INVALID, "'nope'", "episodic", "semantic",
         id="remember-unknown-layer"),
    case(lambda a, i: a.remember("x", layer=None), INVALID, "layer", id="remember-layer-none"),
    # recall
    case(lambda a, i: a.recall(query=None), INVALID, "query", id="recall-query-none"),
    case(lambda a, i: a.recall(42), INVALID, "query", id="recall-query-int"),
    case(lambda a, i: a.recall(""), INVALID, "query", "empty", id="recall-query-empty"),
    case(lambda a, i: a.recall("  \n"), INVALID, "query", "empty", id="recall-query-blank"),
    case(lambda a, i: a.recall("port \ud800"), INVALID, "query", "surrogate",
         id="recall-query-surrogate"),
    case(lambda a, i: a.recall("port\x00"), INVALID, "query", "NUL", id="recall-query-nul"),
    case(lambda a, i: a.recall("port", k="5"), INVALID, "'k'", id="recall-k-str"),
    case(lambda a, i: a.recall("port", k=0), INVALID, "k", "between 1", id="recall-k-0"),
    case(lambda a, i: a.recall("port", k=-3), INVALID, "k", id="recall-k-negative"),
    case(lambda a, i: a.recall("port", k=10**9), INVALID, "k", "1,000", id="recall-k-huge"),
    case(lambda a, i: a.recall("port", k=2.5), INVALID, "'k'", id="recall-k-float"),
    case(lambda a, i: a.recall("port", k=True), INVALID, "'k'", id="recall-k-bool"),
    case(lambda a, i: a.recall("port", layers=["nope"]), INVALID, "'nope'", "semantic",
         id="recall-unknown-layer"),
    case(lambda a, i: a.recall("port", layers=["semantic", "nope"]), INVALID, "'nope'",
         id="recall-one-unknown-layer"),
    case(lambda a, i: a.recall("port", layers="semantic"), INVALID, "layers",
         id="recall-layers-str"),
    case(lambda a, i: a.recall("port", as_of="last tuesday"), INVALID, "as_of",
         id="recall-as-of-garbage"),
    case(lambda a, i: a.recall("port", as_of=1700000000), INVALID, "as_of",
         id="recall-as-of-int"),
    case(lambda a, i: a.recall("port", metadata={"team": ["ops"]}), INVALID, "team",
         id="recall-filter-list"),
    case(lambda a, i: a.recall("port", metadata={"team": "\ud800"}), INVALID, "metadata",
         id="recall-filter-surrogate"),
    case(lambda a, i: a.recall("port", metadata="team=ops"), INVALID, "metadata",
         id="recall-filter-str"),
    case(lambda a, i: a.recall("port", scope=""), INVALID, "scope", id="recall-scope-empty"),
    case(lambda a, i: a.recall("port", limit=3), INVALID, "limit", id="recall-unknown-kw"),
    # get
    case(lambda a, i: a.get(None), INVALID, "id", id="get-none"),
    case(lambda a, i: a.get(5), INVALID, "id", id="get-int"),
    case(lambda a, i: a.get("01NOSUCHMEMORY000000000000"), NOT_FOUND,
         "01NOSUCHMEMORY000000000000", id="get-unknown"),
    case(lambda a, i: a.get(i["plain"], scope="someone-else"), NOT_FOUND, "someone-else",
         id="get-other-scope"),
    # forget
    case(lambda a, i: a.forget("01NOSUCHMEMORY000000000000"), NOT_FOUND,
         "01NOSUCHMEMORY000000000000", "nothing was deleted", id="forget-unknown"),
    case(lambda a, i: a.forget([i["plain"], "01NOSUCHMEMORY000000000000", i["event"]]),
         NOT_FOUND, "01NOSUCHMEMORY000000000000", "nothing was deleted", id="forget-mixed"),
    case(lambda a, i: a.forget([i["fact_v1"], "nope"]), NOT_FOUND, "nope",
         id="forget-mixed-fact-version"),
    case(lambda a, i: a.forget([i["plain"]], scope="someone-else"), NOT_FOUND,
         id="forget-other-scope"),
    case(lambda a, i: a.forget([]), INVALID, "id", id="forget-empty-list"),
    case(lambda a, i: a.forget(123), INVALID, "ids", id="forget-int"),
    case(lambda a, i: a.forget({i["plain"]}), INVALID, "ids", id="forget-set"),
    case(lambda a, i: a.forget([i["plain"], 5]), INVALID, "ids", id="forget-list-with-int"),
    # semantic layer
    case(lambda a, i: a.semantic.update(i["fact_v1"], "the team lead is carol"), INVALID,
         "superseded", "fact_v2", id="update-superseded"),
    case(lambda a, i: a.semantic.update("01NOSUCHMEMORY000000000000", "x"), NOT_FOUND,
         "01NOSUCHMEMORY000000000000", id="update-unknown"),
    case(lambda a, i: a.semantic.update(i["event"], "x"), NOT_FOUND, id="update-an-episode"),
    case(lambda a, i: a.semantic.update(i["fact_v2"], "  "), INVALID, "empty",
         id="update-empty-text"),
    case(lambda a, i: a.semantic.update(i["fact_v2"], "x", importance=5.0), INVALID,
         "importance", id="update-importance"),
    case(lambda a, i: a.semantic.update(i["fact_v2"], "x", metadata={"o": object()}),
         INVALID, "metadata", id="update-metadata"),
    case(lambda a, i: a.semantic.history("01NOSUCHMEMORY000000000000"), NOT_FOUND,
         id="history-unknown"),
    case(lambda a, i: a.semantic.facts(limit=0), INVALID, "limit", id="facts-limit-0"),
    case(lambda a, i: a.semantic.facts(offset=-1), INVALID, "offset", id="facts-offset"),
    # episodic layer
    case(lambda a, i: a.episodic.record(""), INVALID, "content", "empty",
         id="record-empty"),
    case(lambda a, i: a.episodic.record("x\x00y"), INVALID, "content", "NUL", id="record-nul"),
    case(lambda a, i: a.episodic.record("x", kind="  "), INVALID, "kind", id="record-blank-kind"),
    case(lambda a, i: a.episodic.record("x", occurred_at="yesterday"), INVALID, "occurred_at",
         id="record-bad-time"),
    case(lambda a, i: a.episodic.record("x", context="cwd=/tmp"), INVALID, "context",
         id="record-context-str"),
    case(lambda a, i: a.episodic.record("x", context={"o": object()}), INVALID, "context",
         id="record-context-object"),
    case(lambda a, i: a.episodic.record("x", importance=math.nan), INVALID, "importance",
         id="record-importance-nan"),
    case(lambda a, i: a.episodic.record("x", session=5), INVALID, "session",
         id="record-session-int"),
    case(lambda a, i: a.episodic.timeline(limit=0), INVALID, "limit", id="timeline-limit-0"),
    case(lambda a, i: a.episodic.timeline(limit=-1), INVALID, "limit",
         id="timeline-limit-negative"),
    case(lambda a, i: a.episodic.timeline(limit=10_001), INVALID, "limit",
         id="timeline-limit-huge"),
    case(lambda a, i: a.episodic.timeline(order="sideways"), INVALID, "order",
         id="timeline-order"),
    case(lambda a, i: a.episodic.timeline(start="soon"), INVALID, "start",
         id="timeline-start"),
    case(lambda a, i: a.episodic.timeline(context={"a": [1]}), INVALID, "'a'",
         id="timeline-context-list"),
    case(lambda a, i: a.episodic.search("", k=3), INVALID, "query", id="search-empty"),
    case(lambda a, i: a.episodic.search("billing", k=0), INVALID, "k", id="search-k-0"),
]


@pytest.mark.parametrize(("call", "error", "fragments"), CASES)
def test_bad_input_raises_typed_error_and_changes_nothing(stored, call, error, fragments):
    athena, ids = stored
    with pytest.raises(error) as caught:
        call(athena, ids)
    message = str(caught.value)
    for fragment in fragments:
        expected = ids.get(fragment, fragment)  # an id by its baseline name
        assert expected.lower() in message.lower(), f"{expected!r} not in {message!r}"
    assert_intact(athena, ids)


# --- text size limits ---------------------------------------------------------------------


def test_ten_megabytes_of_text_is_refused_naming_the_limit(stored):
    athena, ids = stored
    huge = "a" * 10_000_000
    for call in (lambda: athena.remember(huge),
                 lambda: athena.episodic.record(huge),
                 lambda: athena.semantic.update(ids["fact_v2"], huge),
                 lambda: athena.recall(huge)):
        with pytest.raises(InvalidArgumentError) as caught:
            call()
        message = str(caught.value)
        assert "1,000,000" in message
        assert "max_text_bytes" in message
        assert "10,000,000" in message
    assert_intact(athena, ids)


def test_text_limit_counts_utf8_bytes_not_characters(athena_factory):
    athena = athena_factory(memory={"max_text_bytes": 100})
    assert athena.get(athena.remember("a" * 100)).text == "a" * 100
    assert athena.get(athena.remember("é" * 50)).text == "é" * 50  # 100 bytes
    for text in ("a" * 101, "é" * 51, "a" * 99 + "é"):
        with pytest.raises(InvalidArgumentError) as caught:
            athena.remember(text)
        assert "limit is 100 bytes" in str(caught.value)
        assert "max_text_bytes" in str(caught.value)
    assert len(athena.semantic.facts()) == 2


def test_calls_on_a_closed_instance_fail_clearly(athena_factory):
    athena = athena_factory()
    kept = athena.remember("still here after reopening")
    athena.close()
    for call in (lambda: athena.remember("x"), lambda: athena.recall("x"),
                 lambda: athena.get(kept), lambda: athena.forget(kept),
                 lambda: athena.episodic.timeline(), lambda: athena.semantic.facts()):
        with pytest.raises(AthenaError) as caught:
            call()
        assert "closed" in str(caught.value)
    athena.close()  # closing twice is fine
    assert athena_factory().get(kept).text == "still here after reopening"


# --- unusual but valid input ------------------------------------------------------------


@pytest.mark.parametrize("key", ["plain", "dotted.key", "with space", "é-accent", 'quote"d',
                                 "back\\slash"])
def test_metadata_filter_on_unusual_keys_never_silently_misses(athena, key):
    """A metadata key that can be stored can be filtered on (or is refused up front)."""
    memory_id = athena.remember("a note about harpsichords", metadata={key: 7})
    assert athena.get(memory_id).metadata == {key: 7}
    try:
        hits = athena.recall("harpsichords", metadata={key: 7})
    except AthenaError:
        return
    assert [h.id for h in hits] == [memory_id]


def test_unicode_text_round_trips(athena):
    texts = ["emoji 🦉 and CJK 知识 and RTL שלום", "combining e\u0301 vs é",
             "zero width\u200bjoiner", "tab\tand\nnewlines\r\n"]
    ids = [athena.remember(text) for text in texts]
    assert [athena.get(i).text for i in ids] == texts
    assert ids[0] in [h.id for h in athena.recall("知识")]
