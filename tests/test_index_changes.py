"""Changes other instances make to existing memories reach an open index without a rebuild.

Each forget or supersede records the keys it changed per index epoch
(``vector_changes``); an instance that is behind applies just those. Two instances on
one data dir stand in for two processes: each has its own vector index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from athena_core import Athena
from athena_core._time import utcnow
from athena_core.retrieval import index as index_module


@pytest.fixture
def rebuilds(monkeypatch: pytest.MonkeyPatch) -> Callable[[Athena], list[int]]:
    """Count the rebuilds of an instance's vector backend (a rebuild starts by clearing it)."""
    def watch(athena: Athena) -> list[int]:
        cleared: list[int] = []
        backend = athena.index.backend
        clear = backend.clear
        monkeypatch.setattr(backend, "clear", lambda: (cleared.append(1), clear())[1])
        return cleared
    return watch


def ids(hits: list) -> list[str]:
    return [hit.id for hit in hits]


@pytest.fixture
def pair(athena_factory):
    writer, reader = athena_factory(), athena_factory()
    notes = [writer.remember(f"staging deploy checklist item {i}") for i in range(6)]
    assert len(reader.recall("staging deploy checklist", k=10)) == 6  # reader's index loaded
    return writer, reader, notes


def test_a_forget_elsewhere_is_applied_not_rebuilt(pair, caplog, rebuilds) -> None:
    writer, reader, notes = pair
    cleared = rebuilds(reader)
    before = len(reader.index.backend)
    with caplog.at_level(logging.DEBUG, logger="athena.retrieval"):
        writer.forget([notes[1], notes[4]])
        hits = reader.recall("staging deploy checklist", k=10)
    assert sorted(ids(hits)) == sorted(set(notes) - {notes[1], notes[4]})
    assert len(reader.index.backend) == before - 2
    assert cleared == []
    assert any("Applying 2 changed memories" in r.getMessage() for r in caplog.records)


def test_a_supersede_elsewhere_is_applied_with_its_validity(athena_factory, rebuilds) -> None:
    writer, reader = athena_factory(), athena_factory()
    old = writer.remember("The release train leaves on Tuesdays")
    assert ids(reader.recall("release train", k=5)) == [old]
    cleared = rebuilds(reader)
    before_update = utcnow()
    new = writer.semantic.update(old, "The release train leaves on Thursdays")
    assert ids(reader.recall("release train", k=5)) == [new]
    # The old version still answers for the time it was valid.
    past = before_update - timedelta(microseconds=1)
    assert ids(reader.recall("release train", k=5, as_of=past)) == [old]
    assert cleared == []


def test_several_epochs_and_new_memories_together(pair, rebuilds) -> None:
    writer, reader, notes = pair
    cleared = rebuilds(reader)
    for note in notes[:3]:  # three epochs
        writer.forget(note)
    added = writer.remember("staging deploy checklist item new")
    hits = reader.recall("staging deploy checklist", k=10)
    assert sorted(ids(hits)) == sorted([*notes[3:], added])
    assert cleared == []


def test_changes_of_both_instances_interleaved(pair) -> None:
    writer, reader, notes = pair
    writer.forget(notes[0])
    reader.forget(notes[1])  # the reader's own epoch follows one it has not seen
    writer.forget(notes[2])
    assert sorted(ids(reader.recall("staging deploy checklist", k=10))) == sorted(notes[3:])
    assert sorted(ids(writer.recall("staging deploy checklist", k=10))) == sorted(notes[3:])


def test_a_reindex_elsewhere_still_rebuilds(pair, rebuilds) -> None:
    writer, reader, _ = pair
    cleared = rebuilds(reader)
    writer.index.reindex()
    assert len(reader.recall("staging deploy checklist", k=10)) == 6
    assert cleared == [1]


def test_an_index_behind_the_kept_changes_rebuilds(pair, rebuilds, monkeypatch) -> None:
    writer, reader, notes = pair
    cleared = rebuilds(reader)
    monkeypatch.setattr(index_module, "_CHANGES_KEPT", 2)
    for note in notes[:3]:
        writer.forget(note)
    assert sorted(ids(reader.recall("staging deploy checklist", k=10))) == sorted(notes[3:])
    assert cleared == [1]
