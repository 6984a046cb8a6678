"""A policy's permissions hold on every door: a read-only tenant reads, and changes nothing.

Every door bound to B under the ``readonly`` policy (``permissions = ["read"]``) is
offered write and delete operations - built-in and the plugin's - and each is refused
with ``PermissionDeniedError`` (or not offered at all: classic mode lists only what the
policy allows), while B's memories stay exactly as they were.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.invariants.world import SHARED_SESSION, World, examples

pytestmark = pytest.mark.timeout(900)


def writes(world: World) -> st.SearchStrategy[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    b_id = st.sampled_from(sorted(world.b.ids.values()))
    b_fact = st.sampled_from(sorted(world.b.facts.values()))
    text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
    return st.one_of(
        st.tuples(st.just("remember"), st.tuples(text), st.just({})),
        st.tuples(st.just("episodic.record"), st.tuples(text), st.just({})),
        st.tuples(st.just("semantic.update"), st.tuples(b_id, text), st.just({})),
        st.tuples(st.just("forget"), st.tuples(b_id), st.just({})),
        st.tuples(st.just("forget"), st.just(()), st.just({"session": SHARED_SESSION})),
        st.tuples(st.just("scopeless.note"), st.tuples(text), st.just({})),
        st.tuples(st.just("scopeless.wipe"), st.tuples(st.lists(b_id, min_size=1, max_size=2,
                                                                unique=True)), st.just({})),
        st.tuples(st.just("execute"), st.just(("1",)), st.just({})),
        st.tuples(st.just("graph.entity"), st.tuples(text), st.just({})),
        st.tuples(st.just("graph.relate"), st.just(("B owner", "lives_in", "Vault")),
                  st.just({})),
        st.tuples(st.just("graph.retract"), st.tuples(b_fact), st.just({})),
        st.tuples(st.just("graph.link"), st.tuples(b_id), st.just({})),
        st.tuples(st.just("graph.declare"), st.just(("visited",)), st.just({})),
        st.tuples(st.just("prospective.add"), st.tuples(text), st.just({})),
        st.tuples(st.just("prospective.done"), st.tuples(st.just(world.b.task)), st.just({})),
        st.tuples(st.just("prospective.cancel"), st.tuples(st.just(world.b.task)),
                  st.just({})),
        st.tuples(st.just("prospective.due"), st.just(()), st.just({})),
        st.tuples(st.just("prospective.triggered"), st.just(()),
                  st.just({"text": "standup"})),
        st.tuples(st.just("forget"), st.tuples(st.just(world.b.task)), st.just({})),
    )


def test_read_only_doors_still_read(world: World) -> None:
    for door in world.doors("readonly"):
        outcome = door.call("recall", world.b.token)
        assert outcome is not None and outcome.ok, (door, outcome)
        assert world.a.token not in outcome.seen, (door, outcome)


@examples(80)
@given(data=st.data())
def test_a_read_only_policy_changes_nothing(world: World, data: Any) -> None:
    door = data.draw(st.sampled_from(world.doors("readonly")), label="door")
    op, args, kwargs = data.draw(writes(world), label="call")
    before = world.snapshot("B")
    outcome = door.call(op, *args, **kwargs)
    # Not offered at all: classic mode lists only what the policy allows, and no program
    # has `execute`. Every other door must answer - and refuse.
    if outcome is None:
        assert door.name.startswith("mcp-classic") or (
            op == "execute" and door.name != "host"), (door, op)
    else:
        assert outcome.refused, (door, op, outcome)
        missing = "execute" if op == "execute" else "delete" if "forget" in op or \
            "wipe" in op else "write"
        assert missing in outcome.seen, (door, op, outcome)
    assert world.snapshot("B") == before, (door, op, outcome)


def test_listings_show_only_what_the_policy_allows(world: World) -> None:
    """Classic mode's tools and code mode's search_api list no operation the read-only
    policy refuses."""
    refused = {"remember", "forget", "episodic_record", "semantic_update", "execute",
               "scopeless_note", "scopeless_wipe", "graph_relate", "graph_retract",
               "prospective_add", "prospective_due"}
    for door in world.doors("readonly"):
        client = getattr(door, "client", None)
        if client is None:
            continue
        tools = set(client.tools())
        if door.name.startswith("mcp-classic"):
            assert "recall" in tools and not tools & refused, (door, tools)
        else:
            found = client.call_tool("search_api", {"query": "store forget update delete",
                                                    "detail": "names", "limit": 50})
            names = set(found.structured_content["operations"])
            assert not names & {"remember", "forget", "episodic.record", "semantic.update",
                                "scopeless.note", "scopeless.wipe", "graph.relate",
                                "graph.retract"}, (door, names)
