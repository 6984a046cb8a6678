"""Tenant B never observes or changes anything of tenant A, through any door.

Each example draws a door bound to B and an operation aimed at A's memories (its ids,
its secret token, its session name, its metadata, its scope by name), calls it, and
checks that nothing B got back holds A's token and that A's export is unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.invariants.world import SHARED_SESSION, World, canary, examples

pytestmark = pytest.mark.timeout(900)

#: Text B may write: any printable text (the CLI cannot pass a NUL in an argument).
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


def attacks(world: World) -> st.SearchStrategy[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    a, b = world.a, world.b
    a_id = st.sampled_from(sorted(a.ids.values()))
    b_id = st.sampled_from(sorted(b.ids.values()))
    a_fact = st.sampled_from(sorted(a.facts.values()))
    # What B could guess of A's texts; A's token itself is secret, so it must never show.
    token = st.sampled_from(["deploy key", "deploy key rotated", "standup mentioned", "note",
                             "A deploy", "vault"])
    return st.one_of(
        st.tuples(st.just("recall"), st.tuples(token), st.just({})),
        st.tuples(st.just("recall"), st.tuples(token), st.just({"scope": "A"})),
        st.tuples(st.just("recall"), st.tuples(token),
                  st.just({"metadata": {"tenant": "A"}})),
        st.tuples(st.just("get"), st.tuples(a_id), st.just({})),
        st.tuples(st.just("get"), st.tuples(a_id), st.just({"scope": "A"})),
        st.tuples(st.just("forget"), st.tuples(a_id), st.just({})),
        st.tuples(st.just("forget"), st.tuples(st.lists(st.one_of(a_id, b_id), min_size=2,
                                                        max_size=3, unique=True)),
                  st.just({})),
        st.tuples(st.just("forget"), st.just(()), st.just({"session": SHARED_SESSION})),
        st.tuples(st.just("forget"), st.just(()), st.just({"metadata": {"tenant": "A"}})),
        st.tuples(st.just("forget"), st.just(()), st.just({"everything": True})),
        st.tuples(st.just("semantic.history"), st.tuples(a_id), st.just({})),
        st.tuples(st.just("semantic.update"), st.tuples(a_id, texts), st.just({})),
        st.tuples(st.just("semantic.facts"), st.just(()), st.just({"limit": 1000})),
        st.tuples(st.just("episodic.search"), st.tuples(token), st.just({})),
        st.tuples(st.just("episodic.timeline"), st.just(()),
                  st.just({"session": SHARED_SESSION, "limit": 1000})),
        st.tuples(st.just("episodic.record"), st.tuples(texts), st.just({"scope": "A"})),
        st.tuples(st.just("remember"), st.tuples(texts), st.just({"scope": "A"})),
        st.tuples(st.just("remember"), st.tuples(texts), st.just({})),
        st.tuples(st.just("prospective.get"), st.tuples(st.just(a.task)), st.just({})),
        st.tuples(st.just("prospective.done"), st.tuples(st.just(a.task)), st.just({})),
        st.tuples(st.just("prospective.cancel"), st.tuples(st.just(a.task)), st.just({})),
        st.tuples(st.just("prospective.runs"), st.tuples(st.just(a.task)), st.just({})),
        st.tuples(st.just("prospective.list"), st.just(()), st.just({"scope": "A"})),
        st.tuples(st.just("prospective.list"), st.just(()), st.just({})),
        st.tuples(st.just("prospective.due"), st.just(()), st.just({})),
        st.tuples(st.just("prospective.triggered"), st.just(()),
                  st.just({"text": "standup", "scope": "A"})),
        st.tuples(st.just("prospective.add"), st.tuples(texts), st.just({"scope": "A"})),
        st.tuples(st.just("forget"), st.tuples(st.just(a.task)), st.just({})),
        st.tuples(st.just("scopeless.find"), st.tuples(token), st.just({})),
        st.tuples(st.just("graph.current"), st.tuples(st.just("A owner")), st.just({})),
        st.tuples(st.just("graph.current"), st.tuples(st.just("A owner")),
                  st.just({"scope": "A"})),
        st.tuples(st.just("graph.history"), st.tuples(st.just("Vault")), st.just({})),
        st.tuples(st.just("graph.subgraph"), st.tuples(st.just(["Vault"])),
                  st.just({"depth": 2})),
        st.tuples(st.just("graph.recall"), st.tuples(token), st.just({})),
        st.tuples(st.just("graph.retract"), st.tuples(a_fact), st.just({})),
        st.tuples(st.just("graph.correct"), st.tuples(a_fact), st.just({"value": "x"})),
        st.tuples(st.just("graph.link"), st.tuples(a_id), st.just({})),
        st.tuples(st.just("graph.relate"), st.just(("A owner", "lives_in", "Vault")),
                  st.just({"scope": "A"})),
        st.tuples(st.just("scopeless.note"), st.tuples(texts), st.just({})),
        st.tuples(st.just("scopeless.wipe"), st.tuples(st.lists(a_id, min_size=1, max_size=2,
                                                                unique=True)), st.just({})),
    )


def test_every_door_is_open(world: World) -> None:
    """Control: each door reaches B's own memories (so a refusal above is not a dead door),
    and the suite drives every path it promises."""
    names = [door.name for door in world.doors("default")]
    for expected in ("host", "mcp-code[stdio]", "mcp-classic[stdio]", "mcp-code[http]",
                     "mcp-classic[http]", "cli"):
        assert expected in names, names
    assert any(name.startswith("execute[") for name in names), names
    probe = canary()
    world.athena.remember(f"B probe {probe}", scope="B")
    for door in world.doors("default"):
        outcome = door.call("recall", probe)
        assert outcome is not None and outcome.ok, (door, outcome)
        assert probe in outcome.seen, (door, outcome)
        assert world.a.token not in outcome.seen, (door, outcome)


@examples(120)
@given(data=st.data())
def test_tenant_b_never_observes_or_changes_tenant_a(world: World, data: Any) -> None:
    door = data.draw(st.sampled_from(world.doors("default")), label="door")
    op, args, kwargs = data.draw(attacks(world), label="call")
    before = world.snapshot("A")
    outcome = door.call(op, *args, **kwargs)
    if outcome is not None:
        assert world.a.token not in outcome.seen, (door, op, outcome)
        if "scope" in kwargs:  # naming another scope is refused, on every door
            assert not outcome.ok, (door, op, outcome)
    assert world.snapshot("A") == before, (door, op, outcome)


def test_a_plugin_operation_without_scope_reaches_only_b(world: World) -> None:
    """The third-party plugin's operations take no scope; the bound one still holds."""
    for door in world.doors("default"):
        outcome = door.call("scopeless.find", "deploy key")
        if outcome is None:
            continue
        assert outcome.ok, (door, outcome)
        assert world.a.token not in outcome.seen, (door, outcome)
