"""Semantic memory: remember, recall, update with history, as_of, forget."""

from __future__ import annotations

import time

import pytest

from athena_core.errors import AthenaError, InvalidArgumentError, MemoryNotFoundError


def test_remember_then_recall_returns_full_hits(athena) -> None:
    memory_id = athena.remember("Deploys go through staging first", metadata={"source": "runbook"},
                                importance=0.8, scope="project:web")
    [hit, *_] = athena.recall("how do we deploy?", k=5, scope="project:web")
    assert (hit.id, hit.text, hit.layer, hit.scope) == (
        memory_id, "Deploys go through staging first", "semantic", "project:web")
    assert hit.metadata == {"source": "runbook"} and hit.importance == 0.8
    assert hit.score > 0
    assert hit.created_at.tzinfo is not None
    assert hit.to_dict()["created_at"].endswith("+00:00")


def test_update_keeps_history_and_as_of(athena) -> None:
    old = athena.remember("The API rate limit is 100 requests per minute")
    time.sleep(0.01)
    before_update = athena.get(old).created_at
    new = athena.semantic.update(old, "The API rate limit is 500 requests per minute",
                                 reason="plan upgrade")
    assert [h.id for h in athena.recall("API rate limit")] == [new]
    then = athena.recall("API rate limit", as_of=before_update)
    assert [h.id for h in then] == [old]
    history = athena.semantic.history(new)
    assert [(f.version, f.id) for f in history] == [(1, old), (2, new)]
    assert history[0].superseded_by == new and history[0].supersede_reason == "plan upgrade"
    assert history[0].valid_to == history[1].valid_from
    assert history[1].valid_to is None and history[0].lineage_id == history[1].lineage_id
    assert [f.id for f in athena.semantic.facts()] == [new]
    assert [f.id for f in athena.semantic.facts(as_of=before_update)] == [old]


def test_update_of_superseded_version_is_refused(athena) -> None:
    old = athena.remember("v1 of a fact")
    athena.semantic.update(old, "v2 of a fact")
    with pytest.raises(InvalidArgumentError, match="already superseded"):
        athena.semantic.update(old, "v3 from a stale id")


def test_update_keeps_metadata_unless_given(athena) -> None:
    old = athena.remember("colour is blue", metadata={"topic": "ui"}, importance=0.9)
    new = athena.semantic.update(old, "colour is green")
    assert athena.get(new).metadata == {"topic": "ui"} and athena.get(new).importance == 0.9
    newer = athena.semantic.update(new, "colour is red", metadata={"topic": "design"})
    assert athena.get(newer).metadata == {"topic": "design"}


def test_forget_removes_every_version(athena) -> None:
    old = athena.remember("secret plan alpha")
    new = athena.semantic.update(old, "secret plan beta")
    assert athena.forget(old) == 2
    assert athena.recall("secret plan") == []
    for memory_id in (old, new):
        with pytest.raises(MemoryNotFoundError):
            athena.get(memory_id)
    with pytest.raises(MemoryNotFoundError):
        athena.semantic.history(new)


def test_scopes_never_leak(athena) -> None:
    athena.remember("alpha team uses postgres", scope="alpha")
    athena.remember("beta team uses postgres too", scope="beta")
    assert [h.text for h in athena.recall("postgres", scope="alpha")] == [
        "alpha team uses postgres"]
    assert athena.recall("postgres", scope="gamma") == []
    beta_id = athena.recall("postgres", scope="beta")[0].id
    with pytest.raises(MemoryNotFoundError):
        athena.get(beta_id, scope="alpha")
    with pytest.raises(MemoryNotFoundError):
        athena.forget(beta_id, scope="alpha")
    with pytest.raises(MemoryNotFoundError):
        athena.semantic.update(beta_id, "hijacked", scope="alpha")
    assert athena.get(beta_id, scope="beta").text == "beta team uses postgres too"


def test_default_scope_comes_from_config(athena_factory) -> None:
    athena = athena_factory(memory={"default_scope": "team"})
    memory_id = athena.remember("stored without a scope")
    assert athena.get(memory_id, scope="team").scope == "team"


def test_metadata_filter_is_applied_inside_the_search(athena) -> None:
    for i in range(30):
        athena.remember(f"deploy note number {i}", metadata={"source": "chat"})
    athena.remember("deploy checklist from the runbook", metadata={"source": "runbook", "v": 2})
    hits = athena.recall("deploy note", k=1, metadata={"source": "runbook"})
    assert [h.text for h in hits] == ["deploy checklist from the runbook"]
    assert athena.recall("deploy", metadata={"v": 2})[0].metadata["v"] == 2
    assert athena.recall("deploy", metadata={"source": "nowhere"}) == []


def test_recall_finds_by_meaning_of_shared_words_not_only_exact_text(athena) -> None:
    athena.remember("Postgres backups run nightly at 02:00 UTC")
    athena.remember("The office coffee machine is on floor 3")
    assert athena.recall("when do backups run?", k=1)[0].text.startswith("Postgres backups")


def test_closed_instance_refuses_operations(athena_factory) -> None:
    athena = athena_factory()
    athena.close()
    for call in (lambda: athena.remember("too late"), lambda: athena.recall("late"),
                 lambda: athena.episodic.record("late"), lambda: athena.semantic.facts()):
        with pytest.raises(AthenaError, match="closed"):
            call()
