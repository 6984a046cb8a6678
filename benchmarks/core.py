"""The core benchmarks: start-up, building a store, ``remember`` and ``recall``.

Every Athena figure is measured next to a baseline in the same run, and samples
of the two are interleaved so that noise from a shared machine hits both alike.
Stores are built and measured in fresh child processes (this file run as a
script), so import costs, caches and memory figures are those of a real process
opening the store, not of the process that filled it.

    python benchmarks/core.py build  --home DIR --size N [--seed S]
    python benchmarks/core.py measure --home DIR --size N [--recall-samples R]
                                      [--remember-samples W] [--seed S]

Each prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from timing import Progress, memory_mb, note, summary
from workload import Workload

__all__ = ["build", "measure", "run_child", "startup"]

HERE = Path(__file__).resolve().parent
#: Settings measured are the defaults; the environment must not change them.
CLEAN_ENV = {key: value for key, value in os.environ.items() if not key.startswith("ATHENA_")}
K = 10

_RAW_PRAGMAS = ("PRAGMA busy_timeout = 30000", "PRAGMA foreign_keys = ON",
                "PRAGMA synchronous = FULL", "PRAGMA journal_mode = WAL")


# --- start-up ------------------------------------------------------------------------


def _athena_script() -> list[str]:
    """The installed ``athena`` console script next to this interpreter (no shims)."""
    beside = Path(sys.executable).with_name("athena")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("athena")
    return [found] if found else [sys.executable, "-m", "athena_core.cli"]


def startup(runs: int) -> dict[str, Any]:
    """Wall time of fresh processes, interleaved round by round (after one warm-up round)."""
    py = sys.executable
    commands = {
        "baseline": [py, "-c", "pass"],
        "import": [py, "-c", "import athena_core"],
        "help": [*_athena_script(), "--help"],
        "import_runtime": [py, "-c", "from athena_core import Athena"],
    }
    inside = [py, "-c", "import time; t = time.perf_counter(); import athena_core; "
                        "print(time.perf_counter() - t)"]
    samples: dict[str, list[float]] = {name: [] for name in commands}
    samples["import_in_process"] = []
    names = list(commands)
    for round_ in range(runs + 1):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            started = time.perf_counter()
            subprocess.run(commands[name], check=True, stdout=subprocess.DEVNULL, env=CLEAN_ENV)
            elapsed = time.perf_counter() - started
            if round_:
                samples[name].append(elapsed)
        out = subprocess.run(inside, check=True, capture_output=True, text=True, env=CLEAN_ENV)
        if round_:
            samples["import_in_process"].append(float(out.stdout))
    result = {name: summary(values) for name, values in samples.items()}
    result["commands"] = {name: " ".join(cmd) for name, cmd in commands.items()}
    return result


# --- child processes -------------------------------------------------------------------


def run_child(*args: str) -> dict[str, Any]:
    """Run this file as a child process and return the JSON object it prints."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                          stdout=subprocess.PIPE, text=True, env=CLEAN_ENV, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step {' '.join(args)!r} failed "
                           f"(exit {proc.returncode}); see the error above")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def build(home: Path, size: int, seed: int) -> dict[str, Any]:
    """Fill an empty data dir with ``size`` memories through ``athena import``'s code path."""
    from athena_core import Athena
    from athena_core.errors import AthenaError
    from athena_core.transfer import import_jsonl

    home.mkdir(parents=True, exist_ok=True)
    export = home.parent / f"{home.name}.jsonl"
    workload = Workload(seed=seed)
    started = time.perf_counter()
    file_bytes = workload.write_export(export, size, Progress(f"generating {size:,} memories"))
    generated = time.perf_counter() - started
    with Athena.open(home) as athena:
        started = time.perf_counter()
        with export.open("rb") as source:
            report = import_jsonl(athena, source, progress=lambda phase: Progress(
                f"importing {size:,} memories: {phase}"))
        imported = time.perf_counter() - started
        started = time.perf_counter()
        try:
            athena.checkpoint()
            checkpoint_via = "Athena.checkpoint()"
        except AthenaError as exc:
            note(f"  Athena.checkpoint() failed ({exc.message}); checkpointing with sqlite3")
            checkpoint_via = "sqlite3 (Athena.checkpoint() failed)"
    if checkpoint_via.startswith("sqlite3"):
        conn = sqlite3.connect(home / "athena.db", isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    checkpointed = time.perf_counter() - started
    export.unlink()
    if report.imported != size:
        raise RuntimeError(f"imported {report.imported} of {size} memories")
    return {"size": size, "generate_s": generated, "export_bytes": file_bytes,
            "import_s": imported, "memories_per_s": size / imported,
            "checkpoint_s": checkpointed, "checkpoint_via": checkpoint_via,
            "db_bytes": _db_bytes(home)}


def _db_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("athena.db*") if p.is_file())


class _RawBaseline:
    """A plain ``sqlite3`` writer: one INSERT and COMMIT per call, Athena's pragmas."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in _RAW_PRAGMAS:
            self.conn.execute(pragma)
        self.conn.execute("CREATE TABLE IF NOT EXISTS notes (pk INTEGER PRIMARY KEY, "
                          "id TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, text TEXT NOT NULL, "
                          "metadata TEXT NOT NULL)")

    def insert(self, memory_id: str, memory: dict[str, Any], meta_json: str) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO notes (id, scope, text, metadata) VALUES (?, ?, ?, ?)",
                     (memory_id, memory["scope"], memory["text"], meta_json))
        conn.execute("COMMIT")


class _RawSchemaWriter:
    """What one ``remember`` writes (memory, full-text via trigger, vector, fact row), as
    hand-written SQL on the store's own file: the SQLite share of a ``remember``."""

    scope = "bench:raw-sql"

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in _RAW_PRAGMAS:
            self.conn.execute(pragma)
        self.conn.execute("PRAGMA secure_delete = ON")

    def insert(self, memory_id: str, memory: dict[str, Any], meta_json: str, vector: bytes
               ) -> None:
        from datetime import UTC, datetime

        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        pk = conn.execute(
            "INSERT INTO memories (id, scope, layer, text, metadata, importance, created_at, "
            "updated_at, valid_from, valid_to) VALUES (?, ?, 'semantic', ?, ?, ?, ?, ?, ?, NULL)",
            (memory_id, self.scope, memory["text"], meta_json, memory["importance"], now, now,
             now)).lastrowid
        conn.execute("INSERT INTO embeddings (memory_pk, vector) VALUES (?, ?)", (pk, vector))
        conn.execute("INSERT INTO facts (memory_pk, lineage_id, version) VALUES (?, ?, 1)",
                     (pk, memory_id))
        conn.execute("COMMIT")


def measure(home: Path, size: int, *, recall_samples: int, remember_samples: int,
            seed: int) -> dict[str, Any]:
    """Open a built store in this (fresh) process and time recall, then remember."""
    clock = time.perf_counter
    result: dict[str, Any] = {"size": size, "memory": {"start": memory_mb()}}
    started = clock()
    from athena_core import Athena
    from athena_core._ids import new_id
    from athena_core.retrieval.filters import RecallFilter
    from athena_core.retrieval.lexical import DocumentFrequencies, lexical_search
    result["import_runtime_s"] = clock() - started

    workload = Workload(seed=seed)
    warmup = max(3, min(10, recall_samples // 10))
    queries = workload.queries(recall_samples + warmup + 1)
    started = clock()
    athena = Athena.open(home)
    result["open_s"] = clock() - started
    result["memory"]["after_open"] = memory_mb()
    index, storage = athena.index, athena.storage
    assert index is not None and storage is not None
    pool = max(index.settings.candidates, K)
    frequencies = DocumentFrequencies()  # kept across queries, as the recall index does

    # First recall of a process: loads every stored vector into the index.
    query, scope = queries[0]
    started = clock()
    athena.recall(query, k=K, scope=scope)
    result["first_recall_s"] = clock() - started
    result["memory"]["after_first_recall"] = memory_mb()
    result["index_entries"] = len(index.backend)
    result["dimension"] = index.embedder.dimension
    result["embedder"] = index.embedder.identity
    result["vector_backend"] = index.settings.vector_backend

    # Baseline: plain numpy brute force over as many unit vectors as the store holds.
    import numpy as np

    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((size, index.embedder.dimension), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)

    def numpy_topk(vector: np.ndarray) -> None:
        scores = matrix @ vector
        top = np.argpartition(-scores, K - 1)[:K]
        top[np.argsort(-scores[top])]

    parts = ("recall", "embed", "sync", "dense", "lexical", "fetch", "numpy")
    times: dict[str, list[float]] = {name: [] for name in parts}
    hits = []
    progress = Progress(f"recall at {size:,}")
    total = len(queries) - 1
    for number, (query, scope) in enumerate(queries[1:]):
        where = RecallFilter(scope)
        # Embedders cache by text: the untimed steps and the embed step use the query with
        # trailing spaces (the same words), so `recall` embeds its query as a new one.
        vector = index.embedder.embed([query + " "], purpose="query")[0]
        ranked = index.search(query + " ", k=K, where=where)
        steps = {
            "recall": lambda q=query, s=scope: hits.append(len(athena.recall(q, k=K, scope=s))),
            "embed": lambda q=query: index.embedder.embed([q + "  "], purpose="query"),
            "sync": index.sync,
            "dense": lambda v=vector, w=where: index.backend.search(v, k=pool, where=w),
            "lexical": lambda q=query, w=where: _lexical(storage, lexical_search, q, pool, w,
                                                         frequencies),
            "fetch": lambda r=ranked: _fetch(storage, r),
            "numpy": lambda v=vector: numpy_topk(v),
        }
        order = parts[number % len(parts):] + parts[:number % len(parts)]
        for name in order:
            started = clock()
            steps[name]()
            elapsed = clock() - started
            if number >= warmup:
                times[name].append(elapsed)
        progress(number + 1, total)
    # What the timed parts do not cover (fusion, argument checks, hooks); noisy per query.
    rest = [total - sum(part) for total, *part in zip(
        times["recall"], times["embed"], times["sync"], times["dense"], times["lexical"],
        times["fetch"], strict=True)]
    result["recall"] = {name: summary(values) for name, values in times.items()}
    result["recall"]["unaccounted"] = summary(rest)
    # Recall alone on other queries, as a process serving recalls does: above, every
    # query is followed by the baseline's and the parts' passes over all the vectors,
    # which evict the model and the indexes from the CPU caches.
    in_a_row = []
    for query, scope in workload.queries(recall_samples, stream=4):
        started = clock()
        athena.recall(query, k=K, scope=scope)
        in_a_row.append(clock() - started)
    result["recall"]["in_a_row"] = summary(in_a_row)
    result["recall"]["mean_hits"] = sum(hits) / len(hits) if hits else 0
    result["recall"]["pool"] = pool

    # remember, interleaved with a raw sqlite3 INSERT + COMMIT of the same memory.
    result["remember"] = _remember(athena, home, workload, remember_samples, new_id)
    result["memory"]["end"] = memory_mb()
    started = clock()
    athena.close()
    result["close_s"] = clock() - started
    result["db_bytes"] = _db_bytes(home)
    return result


def _lexical(storage: Any, lexical_search: Any, query: str, pool: int, where: Any,
             frequencies: Any) -> None:
    with storage.read() as session:
        lexical_search(session, query, limit=pool, where=where, frequencies=frequencies)


def _fetch(storage: Any, ranked: list[tuple[int, float]]) -> None:
    """The end of ``hybrid_recall``: load the ranked rows and build hits."""
    from athena_core.memory.values import Hit, Memory
    from athena_core.storage.queries import MEMORIES_BY_KEY

    with storage.snapshot() as connection:
        rows = {row.pk: row._mapping for row in connection.execute(
            MEMORIES_BY_KEY, {"keys": [key for key, _ in ranked]})}
    [Hit.from_memory(Memory.from_record(rows[key]), score) for key, score in ranked
     if key in rows]


def _remember(athena: Any, home: Path, workload: Workload, samples: int, new_id: Any
              ) -> dict[str, Any]:
    clock = time.perf_counter
    warmup = max(3, min(10, samples // 10))
    memories = workload.new_memories(samples + warmup)
    baseline = _RawBaseline(home.parent / f"{home.name}-baseline.db")
    try:
        schema_writer: _RawSchemaWriter | None = _RawSchemaWriter(home / "athena.db")
    except sqlite3.Error as exc:
        note(f"  raw-schema writer unavailable: {exc}")
        schema_writer = None
    parts = ("remember", "raw_insert", "raw_schema", "embed")
    times: dict[str, list[float]] = {name: [] for name in parts}
    schema_error = None
    progress = Progress("remember")
    rnd = random.Random(1)
    # Nothing may embed a memory's text before `remember` does: embedders cache by text,
    # and `remember` must pay for its embedding. The hand-written SQL stores a zero vector
    # of the right size; the embed step embeds the text reversed (same length, never stored).
    zero_vector = bytes(4 * athena.index.embedder.dimension)
    for number, memory in enumerate(memories):
        meta_json = json.dumps(memory["metadata"], ensure_ascii=False)
        order = list(parts)
        rnd.shuffle(order)
        for name in order:
            started = clock()
            if name == "remember":
                athena.remember(memory["text"], scope=memory["scope"],
                                metadata=memory["metadata"], importance=memory["importance"])
            elif name == "raw_insert":
                baseline.insert(new_id(), memory, meta_json)
            elif name == "embed":
                athena.index.embed([memory["text"][::-1]])
            elif schema_writer is not None:
                try:
                    schema_writer.insert(new_id(), memory, meta_json, zero_vector)
                except sqlite3.Error as exc:  # the schema moved on: report, keep going
                    schema_error = str(exc)
                    schema_writer.conn.close()
                    schema_writer = None
            elapsed = clock() - started
            if number >= warmup:
                times[name].append(elapsed)
        progress(number + 1, len(memories))
    baseline.conn.close()
    if schema_writer is not None:
        schema_writer.conn.close()
    result: dict[str, Any] = {name: summary(values) for name, values in times.items()}
    if schema_error or not times["raw_schema"]:
        result["raw_schema"] = {"n": 0, "error": schema_error or "unavailable"}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("build", "measure"))
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--recall-samples", type=int, default=300)
    parser.add_argument("--remember-samples", type=int, default=300)
    args = parser.parse_args(argv)
    if args.step == "build":
        result = build(args.home, args.size, args.seed)
    else:
        result = measure(args.home, args.size, recall_samples=args.recall_samples,
                         remember_samples=args.remember_samples, seed=args.seed)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
