"""Reindexing with another embedder while other processes use the same store.

The long-lived "old" process is an Athena instance in this test process (hashing
vectors of 64 dimensions); reindexes and processes with the new embedder (the
``other-model`` test embedder) are real processes (``tests/_embedder_host.py``) on
the same SQLite file (or the same PostgreSQL database in the ``postgres`` env). A
reindex that must stop midway is held at a :class:`~athena_core.testing.FileGate`
inside ``embed``, then killed or released.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from athena_core.errors import ReindexRequiredError
from athena_core.testing import FileGate

HOST = Path(__file__).with_name("_embedder_host.py")
ROOT = Path(__file__).resolve().parent.parent
OLD = {"embedder": "hashing", "embedder_options": {"dimension": 64}}
NOTES = [f"deploy checklist step {i} mentions staging" for i in range(10)]


def other(dimension: int, **gate: Any) -> dict[str, Any]:
    """The new embedder, optionally held at a gate on one of its ``embed`` calls."""
    return {"embedder": "other-model",
            "embedder_options": {"dimension": dimension, "name": "b", **gate}}


def start(data_dir: Path, embedder: dict[str, Any], command: str, argument: str
          ) -> subprocess.Popen[str]:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(HOST), str(data_dir), json.dumps(embedder),
                             command, argument], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-4000:]
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def host(data_dir: Path, embedder: dict[str, Any], command: str, argument: str
         ) -> dict[str, Any]:
    return finish(start(data_dir, embedder, command, argument))


@pytest.fixture
def old(athena_factory):
    """The long-lived process with the store's first embedder, and its memories."""
    athena = athena_factory(retrieval=OLD, storage={"busy_timeout_ms": 2_000})
    for note in NOTES:
        athena.remember(note)
    assert len(athena.recall("staging checklist", k=50)) == 10  # its vectors are loaded
    return athena


def test_a_killed_reindex_leaves_the_store_usable_and_resumes(old, data_dir, tmp_path,
                                                               caplog) -> None:
    gate = FileGate(tmp_path / "gate")
    gate.directory.mkdir()
    reindex = start(data_dir, other(32, gate_dir=str(gate.directory), gate_call=3),
                    "reindex", "2")
    gate.wait_for_waiter()  # two batches (4 memories) stored, the third being embedded
    os.kill(reindex.pid, signal.SIGKILL)
    reindex.wait()

    # During the reindex: the old process searches its own vectors and still writes.
    assert len(old.recall("staging checklist", k=50)) == 10
    assert old.index.dense_problem is None and len(old.index.backend) == 10
    old.remember("deploy checklist step written during the reindex")
    # A process with the new embedder recalls by full text and may not write yet.
    during = host(data_dir, other(32), "recall", "checklist")
    assert len(during["texts"]) == 11 and "under way" in during["dense_problem"]
    refused = host(data_dir, other(32), "remember", "too early")
    assert refused["error"] == "ReindexRequiredError"
    assert "reindex has finished" in refused["message"]

    # Rerun: it continues after the 4 memories the killed run stored.
    assert host(data_dir, other(32), "reindex", "2") == {"reindexed": 11,
                                                           "texts_embedded": 7}

    # After: the new embedder searches by meaning and writes.
    after = host(data_dir, other(32), "recall", "staging checklist")
    assert after["dense_problem"] is None and len(after["texts"]) == 11
    assert "id" in host(data_dir, other(32), "remember", "written with the new model")
    # The old process (another dimension) recalls by full text, saying why, and refuses
    # to write vectors of its model.
    with caplog.at_level(logging.WARNING, logger="athena.retrieval"):
        assert len(old.recall("staging checklist", k=50)) == 11
    assert "other-model-b/32" in old.index.dense_problem and len(old.index.backend) == 0
    assert any("full-text search only" in r.getMessage() for r in caplog.records)
    with pytest.raises(ReindexRequiredError, match="other-model-b/32") as refused_old:
        old.remember("an old-model vector")
    assert "athena reindex" in str(refused_old.value)
    # So does a process opened now with the old embedder.
    fresh = host(data_dir, OLD, "recall", "staging checklist")
    assert len(fresh["texts"]) == 11 and "other-model-b/32" in fresh["dense_problem"]


def test_after_a_reindex_to_the_same_dimension_the_old_process_never_mixes(
        old, data_dir) -> None:
    assert host(data_dir, other(64), "reindex", "4")["reindexed"] == 10
    # Cosines of two models' vectors of one dimension would compare without an error:
    # the old process must not load the new vectors, nor add its own.
    assert len(old.recall("staging checklist", k=50)) == 10
    assert len(old.index.backend) == 0
    assert "other-model-b/64" in old.index.dense_problem
    with pytest.raises(ReindexRequiredError, match="other-model-b/64"):
        old.remember("an old-model vector of the same dimension")
    after = host(data_dir, other(64), "recall", "staging checklist")
    assert after["dense_problem"] is None and len(after["texts"]) == 10


def test_other_processes_write_while_the_reindex_embeds(old, data_dir, tmp_path) -> None:
    gate = FileGate(tmp_path / "gate")
    gate.directory.mkdir()
    reindex = start(data_dir, other(32, gate_dir=str(gate.directory), gate_call=1),
                    "reindex", "256")
    try:
        gate.wait_for_waiter()  # the reindex is embedding its first (and only) batch
        # A reindex embedding inside its write transaction would make these wait for
        # the lock until the busy timeout ran out (StorageError).
        old.remember("written while the reindex embeds")
        old.forget(old.recall("step 0", k=1)[0].id)
    finally:
        gate.open()
    # The memory written meanwhile is in the new generation, the forgotten one is not.
    assert finish(reindex)["reindexed"] == 10
    after = host(data_dir, other(32), "recall", "written while the reindex embeds")
    assert after["texts"][0] == "written while the reindex embeds"
