"""What the contract does not cover: filtered graph search, dead rows, scopes as shards,
the saved files (damage of each kind, interrupted saves, concurrent processes),
options."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from athena_core.errors import InvalidArgumentError, OptionError
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import VectorBackendContext, VectorEntry

from athena_faiss import FaissOptions, FaissVectorIndex, _files
from athena_faiss._shard import Shard

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIM = 16


def unit_rows(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def entries(vectors: np.ndarray, *, start: int = 0, scope: str = "s",
            layer: str | None = None) -> list[VectorEntry]:
    return [VectorEntry(start + i, v, scope, layer or ("episodic" if i % 5 == 0 else "semantic"),
                        T0 + timedelta(hours=i)) for i, v in enumerate(vectors)]


def graph_backend(path: Path, **options: object) -> FaissVectorIndex:
    settings = {"hnsw_threshold": 100, "exact_below": 0, "m": 16, "ef_construction": 80,
                "ef_search": 64, **options}
    return FaissVectorIndex(DIM, path, FaissOptions(**settings))  # type: ignore[arg-type]


def exact_top(vectors: np.ndarray, query: np.ndarray, allowed: np.ndarray, k: int) -> list[int]:
    scores = np.where(allowed, vectors @ query, -np.inf)
    return [int(i) for i in np.argsort(-scores)[:k] if allowed[i]]


# --- search --------------------------------------------------------------------------


def test_filters_apply_inside_the_graph_search(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    vectors = unit_rows(rng, 3000)
    backend = graph_backend(tmp_path)
    backend.add(entries(vectors))
    assert backend.graph_scopes() == ["s"]

    def no_exact(*args: object, **kwargs: object) -> None:
        raise AssertionError("answered exactly; the graph search was meant to answer")

    monkeypatch.setattr(Shard, "_exact_search", no_exact)
    episodic = np.arange(3000) % 5 == 0  # a fifth of the rows
    hits = total = 0
    for query in unit_rows(rng, 20):
        found = backend.search(query, k=10, where=RecallFilter("s", layers={"episodic"}))
        assert len(found) == 10 and all(key % 5 == 0 for key, _ in found)
        scores = [score for _, score in found]
        assert scores == sorted(scores, reverse=True)
        hits += len({key for key, _ in found} & set(exact_top(vectors, query, episodic, 10)))
        total += 10
    assert hits / total >= 0.9


def test_few_matching_entries_are_searched_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    vectors = unit_rows(rng, 2000)
    backend = graph_backend(tmp_path, exact_below=500)
    backend.add(entries(vectors))
    since, until = T0 + timedelta(hours=100), T0 + timedelta(hours=400)
    window = (np.arange(2000) >= 100) & (np.arange(2000) < 400)
    for query in unit_rows(rng, 10):
        found = backend.search(query, k=10, where=RecallFilter("s", since=since, until=until))
        assert [key for key, _ in found] == exact_top(vectors, query, window, 10)


def test_a_filter_leaving_a_small_share_is_searched_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    vectors = unit_rows(rng, 20_000)
    backend = graph_backend(tmp_path, exact_below=0, ef_search=16, m=8)  # the share rule only
    backend.add(entries(vectors))
    keys = set(range(0, 20_000, 25))  # 4% of the rows: a graph search would miss some
    allowed = np.isin(np.arange(20_000), list(keys))
    for query in unit_rows(rng, 10):
        found = backend.search(query, k=10, where=RecallFilter("s", keys=keys))
        assert [key for key, _ in found] == exact_top(vectors, query, allowed, 10)


def test_scopes_are_searched_apart(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    big, small = unit_rows(rng, 500), unit_rows(rng, 20)
    backend = graph_backend(tmp_path)
    backend.add(entries(big, scope="big") + entries(small, start=10_000, scope="small"))
    assert backend.graph_scopes() == ["big"]  # the small scope stays exact
    for query in unit_rows(rng, 5):
        found = backend.search(query, k=5, where=RecallFilter("small"))
        assert [key - 10_000 for key, _ in found] == exact_top(small, query,
                                                               np.ones(20, bool), 5)


def test_a_key_can_move_to_another_scope(tmp_path: Path) -> None:
    backend = FaissVectorIndex(DIM, tmp_path)
    vector = unit_rows(np.random.default_rng(6), 1)[0]
    backend.add([VectorEntry(1, vector, "a", "semantic", T0)])
    backend.add([VectorEntry(1, vector, "b", "semantic", T0)])
    assert len(backend) == 1
    assert backend.search(vector, k=3, where=RecallFilter("a")) == []
    assert [k for k, _ in backend.search(vector, k=3, where=RecallFilter("b"))] == [1]


def test_the_graph_is_built_when_a_scope_reaches_the_threshold(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    vectors = unit_rows(rng, 150)
    backend = graph_backend(tmp_path, hnsw_threshold=100, exact_below=10)
    backend.add(entries(vectors[:99]))
    assert backend.graph_scopes() == []
    backend.add(entries(vectors[99:], start=99))
    assert backend.graph_scopes() == ["s"]
    query = vectors[120]
    assert backend.search(query, k=1, where=RecallFilter("s"))[0][0] == 120


# --- dead rows ---------------------------------------------------------------------------


@pytest.mark.parametrize("graph", [False, True])
def test_new_validity_with_the_same_vector_changes_the_row_in_place(tmp_path: Path,
                                                                    graph: bool) -> None:
    rng = np.random.default_rng(8)
    vectors = unit_rows(rng, 200)
    backend = graph_backend(tmp_path, hnsw_threshold=1 if graph else 10_000)
    backend.add(entries(vectors))
    superseded = entries(vectors[:50])
    ended = [VectorEntry(e.key, e.vector, e.scope, e.layer, e.valid_from, T0 + timedelta(days=30))
             for e in superseded]
    backend.add(ended)  # what Athena sends when facts are superseded
    assert backend.dead_rows == 0 and len(backend) == 200
    current = {k for k, _ in backend.search(vectors[10], k=200, where=RecallFilter("s"))}
    assert current == set(range(50, 200))
    past = backend.search(vectors[10], k=1, where=RecallFilter("s", as_of=T0 + timedelta(
        hours=20)))
    assert past[0][0] == 10


def test_removed_entries_are_erased_then_compacted(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    vectors = unit_rows(rng, 400)
    backend = graph_backend(tmp_path, compact_fraction=0.25)
    backend.add(entries(vectors))
    backend.remove(range(0, 60))
    assert backend.dead_rows == 60 and len(backend) == 340
    assert all(key >= 60 for key, _ in backend.search(vectors[5], k=50, where=RecallFilter("s")))
    backend.save_checkpoint("c")
    saved = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert vectors[5].tobytes() not in saved and vectors[100].tobytes() in saved
    backend.remove(range(60, 120))  # past a quarter: rebuilt without them
    assert backend.dead_rows == 0 and len(backend) == 280
    assert backend.graph_scopes() == ["s"]
    assert backend.search(vectors[200], k=1, where=RecallFilter("s"))[0][0] == 200


def test_replaced_vectors_are_searched_by_their_new_value(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    vectors = unit_rows(rng, 300)
    backend = graph_backend(tmp_path, compact_fraction=0.9)
    backend.add(entries(vectors))
    backend.add([VectorEntry(7, vectors[250], "s", "semantic", T0)])
    assert backend.dead_rows == 1 and len(backend) == 300
    found = backend.search(vectors[250], k=2, where=RecallFilter("s"))
    assert {key for key, _ in found} == {7, 250}
    assert backend.search(vectors[7], k=1, where=RecallFilter("s"))[0][0] != 7


def test_removing_every_entry_of_a_graph_scope(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    vectors = unit_rows(rng, 200)
    backend = graph_backend(tmp_path, compact_fraction=0.99)
    backend.add(entries(vectors))
    backend.remove(range(200))
    assert len(backend) == 0
    assert backend.search(vectors[0], k=5, where=RecallFilter("s")) == []
    backend.add(entries(vectors[:3], start=1000))
    assert backend.search(vectors[1], k=1, where=RecallFilter("s"))[0][0] == 1001


# --- saved files ----------------------------------------------------------------------


def saved_backend(path: Path) -> np.ndarray:
    """Save a backend with a graph scope and a small one; returns the vectors."""
    rng = np.random.default_rng(12)
    vectors = unit_rows(rng, 300)
    backend = graph_backend(path)
    backend.add(entries(vectors[:250]) + entries(vectors[250:], start=250, scope="small"))
    backend.save_checkpoint("saved")
    backend.close()
    return vectors


def payload(path: Path, suffix: str) -> Path:
    (found,) = [p for p in path.iterdir() if p.name.endswith(suffix)]
    return found


def rewrite_manifest(path: Path, change: dict[str, object]) -> None:
    """Change the manifest's body and give it a valid checksum again."""
    document = json.loads((path / "manifest.json").read_text())
    body = {**document["body"], **change}
    (path / "manifest.json").write_text(json.dumps(
        {"body": body, "checksum": _files._body_checksum(body)}))


def truncate(path: Path) -> None:
    graph = payload(path, ".graph0")
    graph.write_bytes(graph.read_bytes()[:1000])


def flip_a_byte(path: Path) -> None:
    columns = payload(path, ".columns")
    data = bytearray(columns.read_bytes())
    data[len(data) // 2] ^= 0xFF
    columns.write_bytes(bytes(data))


DAMAGE = {
    "truncated graph": (truncate, "truncated"),
    "flipped byte": (flip_a_byte, "fails its checksum"),
    "missing file": (lambda p: payload(p, ".vectors").unlink(), "missing"),
    "garbled manifest": (lambda p: (p / "manifest.json").write_text("{\"body\": {"),
                         "manifest is not valid"),
    "manifest edited by hand": (
        lambda p: (p / "manifest.json").write_text(
            (p / "manifest.json").read_text().replace('"saved"', '"edited"')),
        "manifest fails its checksum"),
    "format version": (lambda p: rewrite_manifest(p, {"version": 99}), "format version 99"),
    "another format": (lambda p: rewrite_manifest(p, {"format": "x"}), "not an athena-faiss"),
    "wrong dimension": (lambda p: rewrite_manifest(p, {"dimension": DIM + 1}),
                        f"dimension {DIM + 1}"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_saves_are_refused_with_a_warning(tmp_path: Path, kind: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    vectors = saved_backend(tmp_path)
    spoil, reason = DAMAGE[kind]
    spoil(tmp_path)
    again = graph_backend(tmp_path)
    with caplog.at_level(logging.WARNING, logger="athena.faiss"):
        assert again.load_checkpoint() is None
    (record,) = [r for r in caplog.records if r.name == "athena.faiss"]
    assert record.levelno == logging.WARNING
    assert reason in record.getMessage()
    assert "rebuilt from the database" in record.getMessage()
    assert len(again) == 0 and again.graph_scopes() == []
    assert again.search(vectors[0], k=3, where=RecallFilter("s")) == []


def test_a_backend_of_another_dimension_refuses_the_save(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    saved_backend(tmp_path)
    other = FaissVectorIndex(DIM * 2, tmp_path, FaissOptions(hnsw_threshold=100))
    with caplog.at_level(logging.WARNING, logger="athena.faiss"):
        assert other.load_checkpoint() is None
    assert "dimension 16, not the 32" in caplog.text


def test_changed_graph_options_rebuild_with_a_warning(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    saved_backend(tmp_path)
    with caplog.at_level(logging.WARNING, logger="athena.faiss"):
        assert graph_backend(tmp_path, m=8).load_checkpoint() is None
    assert "'m': 16" in caplog.text and "'m': 8" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="athena.faiss"):  # search-time ones do not
        assert graph_backend(tmp_path, ef_search=200).load_checkpoint() == "saved"
    assert caplog.text == ""


def test_nothing_saved_is_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="athena.faiss"):
        assert graph_backend(tmp_path / "never").load_checkpoint() is None
        assert graph_backend(tmp_path).load_checkpoint() is None  # exists, empty
    assert caplog.records == []


def test_an_interrupted_save_keeps_the_previous_one(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    saved_backend(tmp_path)
    backend = graph_backend(tmp_path)
    assert backend.load_checkpoint() == "saved"
    backend.remove(range(100))
    before = sorted(p.name for p in tmp_path.iterdir())

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(_files.IndexDirectory, "write_manifest", crash)
    with pytest.raises(OSError, match="disk full"):
        backend.save_checkpoint("newer")
    monkeypatch.undo()
    again = graph_backend(tmp_path)
    assert again.load_checkpoint() == "saved" and len(again) == 300
    # A later save removes what the interrupted one left behind.
    backend.save_checkpoint("newest")
    after = sorted(p.name for p in tmp_path.iterdir())
    assert len(after) == len(before) and set(after).isdisjoint(set(before) - {"manifest.json",
                                                                               "lock"})
    assert graph_backend(tmp_path).load_checkpoint() == "newest"


def test_a_payload_write_failing_leaves_no_temporary_file(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    saved_backend(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    backend = graph_backend(tmp_path)
    backend.load_checkpoint()

    def fail(out: object, graph: object) -> None:
        raise RuntimeError("faiss could not write")

    monkeypatch.setattr("athena_faiss.index._write_graph", fail)
    with pytest.raises(RuntimeError):
        backend.save_checkpoint("never")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing left behind
    assert graph_backend(tmp_path).load_checkpoint() == "saved"


def test_an_unchanged_backend_is_not_written_again(tmp_path: Path) -> None:
    saved_backend(tmp_path)
    files = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    backend = graph_backend(tmp_path)
    assert backend.load_checkpoint() == "saved"
    backend.search(np.ones(DIM, np.float32) / 4, k=3, where=RecallFilter("s"))
    backend.save_checkpoint("saved")
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
    backend.save_checkpoint("other checkpoint")  # a new checkpoint is always written
    assert graph_backend(tmp_path).load_checkpoint() == "other checkpoint"
    backend.remove([3])  # and so is any change
    backend.save_checkpoint("other checkpoint")
    again = graph_backend(tmp_path)
    assert again.load_checkpoint() == "other checkpoint" and 3 not in again


def test_files_it_did_not_write_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "athena.db").write_bytes(b"not ours")
    backend = FaissVectorIndex(DIM, tmp_path)
    backend.add(entries(unit_rows(np.random.default_rng(1), 3)))
    backend.save_checkpoint("one")
    backend.save_checkpoint("two")
    names = {p.name for p in tmp_path.iterdir()}
    assert {"notes.txt", "athena.db", "manifest.json", "lock"} <= names
    assert len(names) == 6  # and one generation of payloads (columns, vectors)


def test_saving_while_another_process_loads(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """Loads that race with saves get one complete save, never a mix or a warning."""
    rng = np.random.default_rng(13)
    writer = graph_backend(tmp_path)
    writer.add(entries(unit_rows(rng, 300)))
    writer.save_checkpoint("0")
    stop = threading.Event()
    seen: list[tuple[str | None, int]] = []

    def load() -> None:
        reader = graph_backend(tmp_path)
        while not stop.is_set():
            seen.append((reader.load_checkpoint(), len(reader)))

    with caplog.at_level(logging.WARNING, logger="athena.faiss"):
        thread = threading.Thread(target=load)
        thread.start()
        try:
            for i in range(1, 15):
                writer.add(entries(unit_rows(rng, 1), start=10_000 + i))
                writer.save_checkpoint(str(i))
        finally:
            stop.set()
            thread.join()
    assert caplog.records == []
    assert len(seen) > 1
    assert all(checkpoint is not None and size == 300 + int(checkpoint)
               for checkpoint, size in seen), seen


# --- options and wiring -------------------------------------------------------------------


def test_from_context_puts_the_index_in_the_data_dir(tmp_path: Path) -> None:
    backend = FaissVectorIndex.from_context(VectorBackendContext(dimension=8, data_dir=tmp_path))
    assert backend.directory == tmp_path / "vectors" / "faiss"
    relative = FaissVectorIndex.from_context(VectorBackendContext(
        dimension=8, data_dir=tmp_path, options={"path": "elsewhere"}))
    assert relative.directory == tmp_path / "elsewhere"
    absolute = FaissVectorIndex.from_context(VectorBackendContext(
        dimension=8, options={"path": str(tmp_path / "abs"), "hnsw_threshold": 10}))
    assert absolute.directory == tmp_path / "abs" and absolute.options.hnsw_threshold == 10


@pytest.mark.parametrize(("options", "message"), [
    ({"hnsw": 1}, "Unknown faiss vector backend option(s) 'hnsw' in "
                  "[retrieval.vector_options]; valid: path, hnsw_threshold"),
    ({"m": 2}, "faiss vector backend: [retrieval.vector_options] m must be an integer from "
               "4 to 256, not 2."),
    ({"ef_search": "high"}, "ef_search must be an integer"),
    ({"hnsw_threshold": True}, "hnsw_threshold must be an integer"),
    ({"compact_fraction": 1.5}, "compact_fraction must be a number between 0 and 1"),
    ({"path": 3}, "path must be a non-empty string, not 3"),
    ({"path": ""}, "path must be a non-empty string"),
])
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, object],
                                 message: str) -> None:
    with pytest.raises(OptionError, match=re.escape(message)):
        FaissVectorIndex.from_context(VectorBackendContext(dimension=8, data_dir=tmp_path,
                                                           options=options))


def test_a_data_dir_or_an_absolute_path_is_needed() -> None:
    with pytest.raises(InvalidArgumentError, match="needs a data dir"):
        FaissVectorIndex.from_context(VectorBackendContext(dimension=8))


def test_importing_the_plugin_is_free() -> None:
    code = ("import sys, athena_faiss, athena_faiss.plugin; "
            "heavy = {'numpy', 'faiss'} & set(sys.modules); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
