"""Several processes sharing one data dir: no lost writes, no lock errors, no corruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from athena_core.errors import MemoryNotFoundError

WORKERS = Path(__file__).with_name("_workers.py")
PROCESSES = 4
PER_PROCESS = 150
TIMEOUT = 120  # seconds; a safety net against a hung worker, not a performance check


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(WORKERS), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(*args: str) -> list[str]:
    """Run a worker to completion; return its stdout lines."""
    done = subprocess.run([sys.executable, str(WORKERS), *args], capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, f"worker {args[0]} failed:\n{done.stderr}"
    return done.stdout.split()


def wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        _, err = proc.communicate(timeout=TIMEOUT)
        pytest.fail(f"worker did not start (said {line!r}):\n{err}")


def go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def assert_all_present(athena, ids: list[str]) -> None:
    missing = []
    for memory_id in ids:
        try:
            athena.get(memory_id)
        except MemoryNotFoundError:
            missing.append(memory_id)
    assert not missing, f"{len(missing)} of {len(ids)} acknowledged ids are gone: {missing[:5]}"


def test_parallel_writers_lose_nothing_and_never_report_locks(athena_factory, data_dir):
    athena_factory().close()  # create the database, as `athena init` would
    procs = [start("remember", str(data_dir), str(PER_PROCESS), f"writer{n}")
             for n in range(PROCESSES)]
    try:
        for proc in procs:
            wait_ready(proc)
        for proc in procs:  # all write at the same time
            go(proc)
        results = [proc.communicate(timeout=TIMEOUT) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    acknowledged: list[str] = []
    for proc, (out, err) in zip(procs, results, strict=True):
        assert "database is locked" not in err.lower()
        assert proc.returncode == 0, err
        ids = out.split()
        assert len(ids) == PER_PROCESS, err
        acknowledged.extend(ids)
    assert len(set(acknowledged)) == PROCESSES * PER_PROCESS  # ids never collide

    fresh = athena_factory()
    assert_all_present(fresh, acknowledged)
    assert fresh.storage.integrity_problems() == []
    # Each writer's memories are searchable too, not just stored.
    for n in range(PROCESSES):
        hits = fresh.recall(f"writer{n}", k=PER_PROCESS, metadata={"tag": f"writer{n}"})
        assert len(hits) == PER_PROCESS


def test_writers_opening_a_new_data_dir_at_once(athena_factory, data_dir):
    """The first open creates the schema; several processes may race to do it."""
    procs = [start("remember", str(data_dir), "20", f"first{n}") for n in range(PROCESSES)]
    try:
        for proc in procs:
            wait_ready(proc)
        for proc in procs:
            go(proc)
        results = [proc.communicate(timeout=TIMEOUT) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    acknowledged: list[str] = []
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        acknowledged.extend(out.split())
    assert len(acknowledged) == PROCESSES * 20
    assert_all_present(athena_factory(), acknowledged)


def test_killed_writer_keeps_acknowledged_writes_and_database_stays_healthy(
        athena_factory, data_dir):
    athena_factory().close()
    proc = start("remember", str(data_dir), "0", "doomed")  # writes until killed
    acknowledged: list[str] = []
    try:
        wait_ready(proc)
        go(proc)
        assert proc.stdout is not None
        while len(acknowledged) < 60:
            line = proc.stdout.readline()
            assert line, f"writer stopped early:\n{proc.stderr.read() if proc.stderr else ''}"
            acknowledged.append(line.strip())
        assert proc.poll() is None  # still writing
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    acknowledged.extend(rest.split())  # printed (so acknowledged) before the kill

    athena = athena_factory()
    assert athena.storage.integrity_problems() == []
    assert_all_present(athena, acknowledged)
    hits = athena.recall("doomed note", k=1000, metadata={"tag": "doomed"})
    assert set(acknowledged) <= {h.id for h in hits}

    # Life goes on: this process and a new one can both still write.
    mine = athena.remember("written after the crash")
    theirs = run("remember-one", str(data_dir), "also written after the crash")[0]
    assert_all_present(athena, [mine, theirs])
    assert athena.storage.integrity_problems() == []


def test_writes_and_forgets_of_other_processes_are_visible_to_open_instance(
        athena_factory, data_dir):
    parent = athena_factory()
    parent.remember("the parent's own note about gardening")
    assert parent.recall("gardening")  # the parent's index is loaded before the other writes

    token = f"tok{uuid.uuid4().hex}"
    other = run("remember-one", str(data_dir), f"the deploy key is {token}")[0]

    # Found by its word (full-text search reads the database)...
    assert other in [h.id for h in parent.recall(token)]
    # ...and by vector similarity alone. Full-text search only looks at a query's
    # first 64 distinct words, so behind 64 words no memory contains, only the
    # vector index (kept in memory, synced from the database) can find the note.
    unrelated = " ".join(f"filler{i}x{uuid.uuid4().hex[:6]}" for i in range(64))
    dense_only = f"{unrelated} {' '.join([token] * 50)}"
    assert other in [h.id for h in parent.recall(dense_only, k=10)]
    assert parent.get(other).text == f"the deploy key is {token}"

    assert run("forget", str(data_dir), other) == ["1"]
    assert other not in [h.id for h in parent.recall(token)]
    assert other not in [h.id for h in parent.recall(dense_only, k=10)]
    with pytest.raises(MemoryNotFoundError):
        parent.get(other)
    # The parent's own memories are unaffected and it can keep writing.
    assert parent.recall("gardening")
    newer = parent.remember(f"a newer note with {token}")
    hits = [h.id for h in parent.recall(token)]
    # First, and never the forgotten note. (Not alone: the hashing embedder's buckets
    # can give the random token a small cosine with the gardening note, ~1 run in 40.)
    assert hits[0] == newer and other not in hits
