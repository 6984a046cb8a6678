"""The faiss backend through the front door: ``Athena.open`` on a data dir whose
athena.toml selects it. Every query is made of synonyms that no memory contains, so
only the vector backend can find the memories (full-text search finds nothing)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from athena_core import Athena
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.lexical import lexical_search
from faiss_test_helpers import ConceptEmbedder

from athena_faiss import FaissVectorIndex


def texts(hits: list) -> list[str]:
    return [hit.text for hit in hits]


def index_dir(data_dir: Path) -> Path:
    return data_dir / "vectors" / "faiss"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.levelno >= logging.WARNING and r.name.startswith("athena")]


def seed(athena: Athena) -> dict[str, str]:
    ids = {
        "car": athena.remember("The car is parked in bay 4"),
        "deploy": athena.remember("We deploy on Tuesdays after the standup"),
        "database": athena.remember("The database runs on the big host"),
        "cat": athena.remember("The office cat is called Miso"),
    }
    athena.remember("The car keys hang by the door", scope="other")
    return ids


def test_the_backend_is_faiss(open_athena: Callable[[], Athena], data_dir: Path) -> None:
    athena = open_athena()
    assert isinstance(athena.index.backend, FaissVectorIndex)
    assert athena.index.backend.directory == index_dir(data_dir)
    seed(athena)
    with athena.storage.read() as session:  # synonyms only: full-text search finds nothing
        assert lexical_search(session, "automobile kitten", limit=5,
                              where=RecallFilter("default")) == []
    assert texts(athena.recall("automobile", k=1)) == ["The car is parked in bay 4"]
    assert texts(athena.recall("kitten", k=1)) == ["The office cat is called Miso"]
    assert texts(athena.recall("automobile", k=5, scope="other")) == [
        "The car keys hang by the door"]


def test_reopening_uses_the_saved_index(open_athena: Callable[[], Athena], data_dir: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    athena = open_athena()
    athena.recall("anything")  # the index is built (and saved) on the first recall
    seed(athena)
    athena.close()
    assert (index_dir(data_dir) / "manifest.json").is_file()

    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = open_athena()
        assert texts(again.recall("postgres", k=1)) == ["The database runs on the big host"]
        assert texts(again.recall("rollout", k=1)) == ["We deploy on Tuesdays after the standup"]
    assert warnings(caplog) == []
    assert len(again.index.backend) == 5


def test_a_process_that_only_searched_does_not_rewrite_the_index(
        open_athena: Callable[[], Athena], data_dir: Path) -> None:
    athena = open_athena()
    seed(athena)
    athena.recall("anything")
    athena.close()
    before = {p.name: p.read_bytes() for p in index_dir(data_dir).iterdir()}
    reader = open_athena()
    assert texts(reader.recall("automobile", k=1)) == ["The car is parked in bay 4"]
    reader.close()
    assert {p.name: p.read_bytes() for p in index_dir(data_dir).iterdir()} == before


def test_memories_stored_while_closed_are_found(open_athena: Callable[[], Athena],
                                                caplog: pytest.LogCaptureFixture) -> None:
    first = open_athena()
    seed(first)
    first.recall("anything")
    first.close()
    writer = open_athena()  # stores, never searches, closes
    writer.remember("Espresso machine descaling is on Fridays")
    writer.close()

    caplog.clear()
    with caplog.at_level(logging.INFO):
        reader = open_athena()
        assert texts(reader.recall("latte", k=1)) == ["Espresso machine descaling is on Fridays"]
        assert texts(reader.recall("automobile", k=1)) == ["The car is parked in bay 4"]
    assert warnings(caplog) == []


def test_changes_made_while_closed_are_applied_to_the_saved_index(
        open_athena: Callable[[], Athena], caplog: pytest.LogCaptureFixture) -> None:
    first = open_athena()
    ids = seed(first)
    first.recall("anything")
    first.close()  # saved at this epoch
    writer = open_athena()
    writer.forget(ids["car"])  # two later epochs, recorded key by key
    updated = writer.semantic.update(ids["cat"], "The office cat is now called Tofu")
    writer.close()

    caplog.clear()
    with caplog.at_level(logging.INFO):
        reader = open_athena()
        assert texts(reader.recall("kitten", k=1)) == ["The office cat is now called Tofu"]
        assert ids["car"] not in [hit.id for hit in reader.recall("automobile", k=5)]
    assert [r.getMessage() for r in caplog.records if "Rebuilding" in r.getMessage()] == []
    assert reader.recall("kitten", k=1)[0].id == updated
    assert len(reader.index.backend) == 5  # 5 seeded - 1 forgotten + 1 new version


@pytest.mark.parametrize("how", ["delete", "truncate", "garble manifest"])
def test_a_lost_or_damaged_index_is_rebuilt_with_a_warning(
        open_athena: Callable[[], Athena], data_dir: Path, caplog: pytest.LogCaptureFixture,
        how: str) -> None:
    athena = open_athena()
    seed(athena)
    athena.recall("anything")
    athena.close()
    directory = index_dir(data_dir)
    payloads = [p for p in directory.iterdir() if p.name not in ("manifest.json", "lock")]
    if how == "delete":
        for path in directory.iterdir():
            path.unlink()
    elif how == "truncate":
        for path in payloads:
            path.write_bytes(path.read_bytes()[:-7])
    else:
        (directory / "manifest.json").write_text('{"body": {"format": "athena-fa', "utf-8")

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = open_athena()
        assert texts(again.recall("automobile", k=1)) == ["The car is parked in bay 4"]
        assert texts(again.recall("feline", k=1)) == ["The office cat is called Miso"]
    found = warnings(caplog)
    assert any(w.startswith("athena.retrieval: Rebuilding the 'faiss' vector index") for w in found)
    if how != "delete":  # the backend says what was wrong with its files
        assert any(w.startswith("athena.faiss: The saved faiss vector index") and
                   "rebuilt from the database" in w for w in found)
    again.close()

    caplog.clear()
    with caplog.at_level(logging.WARNING):  # and the rebuilt index was saved
        third = open_athena()
        assert texts(third.recall("automobile", k=1)) == ["The car is parked in bay 4"]
    assert warnings(caplog) == []


def test_another_instance_superseding_a_fact_is_seen(open_athena: Callable[[], Athena]) -> None:
    reader, writer = open_athena(), open_athena()
    ids = seed(reader)
    assert texts(reader.recall("automobile", k=1)) == ["The car is parked in bay 4"]

    writer.semantic.update(ids["car"], "The car is parked in bay 9 now")
    writer.remember("Buy more espresso beans")
    # The old version is no longer current, the new memory is found: the reader's
    # index followed the other instance's changes.
    assert texts(reader.recall("automobile", k=5)) == ["The car is parked in bay 9 now"]
    assert texts(reader.recall("latte", k=1)) == ["Buy more espresso beans"]


def test_another_instance_forgetting_is_seen(open_athena: Callable[[], Athena],
                                             data_dir: Path) -> None:
    reader, writer = open_athena(), open_athena()
    ids = seed(reader)
    reader.recall("anything")
    gone = reader.get(ids["cat"])
    assert texts(reader.recall("feline", k=5)) == [gone.text]

    writer.forget(ids["cat"])
    writer.close()
    assert reader.recall("feline", k=5) == []
    assert len(reader.index.backend) == 4
    reader.close()
    # Nothing of the forgotten memory's vector is left in the saved index.
    vector = ConceptEmbedder().embed([gone.text])[0].tobytes()
    assert vector not in b"".join(p.read_bytes() for p in index_dir(data_dir).iterdir())


def test_changes_are_kept_across_reopening(open_athena: Callable[[], Athena], data_dir: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    athena = open_athena()
    ids = seed(athena)
    athena.recall("anything")
    saved = athena.get(ids["deploy"])
    athena.forget(ids["deploy"])
    athena.semantic.update(ids["car"], "The car went to the garage")
    athena.close()
    files = b"".join(p.read_bytes() for p in index_dir(data_dir).iterdir())
    assert ConceptEmbedder().embed([saved.text])[0].tobytes() not in files

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = open_athena()
        assert again.recall("rollout", k=5) == []
        assert texts(again.recall("automobile", k=5)) == ["The car went to the garage"]
        before = again.semantic.history(ids["car"])[0].valid_to
        assert before is not None
    assert warnings(caplog) == []
    # 5 seeded, 1 forgotten, 1 new version (the old one stays, for as_of).
    assert len(again.index.backend) == 5


def test_what_was_valid_earlier_is_still_found(open_athena: Callable[[], Athena]) -> None:
    athena = open_athena()
    ids = seed(athena)
    athena.recall("anything")
    old = athena.semantic.history(ids["car"])[0]
    athena.semantic.update(ids["car"], "The car was sold")
    athena.close()
    again = open_athena()
    assert texts(again.recall("sedan", k=5)) == ["The car was sold"]
    assert texts(again.recall("sedan", k=5, as_of=old.valid_from)) == [
        "The car is parked in bay 4"]
