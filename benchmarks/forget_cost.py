"""What one ``forget`` costs as the store grows: it should not grow with the store.

    python benchmarks/forget_cost.py                          # 10k, 100k, 1M memories
    python benchmarks/forget_cost.py --sizes 10000,100000     # a quicker run
    python benchmarks/forget_cost.py --forgets 200            # fewer forgets per size
    python benchmarks/forget_cost.py --json out.json          # also write the results as JSON

For each size a data dir is made with Athena (its schema, the hashing embedder of
``--dimension`` dimensions), then filled in bulk with plain ``sqlite3``: memories
with workload sentences (their full-text entries through Athena's own trigger),
fact rows, and random unit vectors in place of real embeddings, so that a million
memories take minutes; the full-text index is then merged into one segment, as a
store that has been optimised looks. A fresh Athena opens it, loads its vector
index (one recall), and forgets ``--forgets`` random memories, one ``forget(id)``
call each, timed one by one.

Printed per size: the median and mean time of one forget, the same for the
baseline measured in the same run on the same store (a plain ``sqlite3`` delete
of one memory row and commit, with Athena's pragmas: what the database alone
must do), and the ratio of each to the smallest size. A forget whose cost is
proportional to what it deletes keeps a ratio near 1 however large the store.

Progress goes to stderr; figures and ratios to stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from timing import Progress, machine, note, summary
from workload import Workload

_BULK_BATCH = 20_000
_PRAGMAS = ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
            "PRAGMA foreign_keys = ON", "PRAGMA secure_delete = ON")


def _config(home: Path, dimension: int) -> Any:
    from athena_core.config import Config

    return Config.from_mapping(
        {"retrieval": {"embedder": "hashing", "embedder_options": {"dimension": dimension}},
         "plugins": {"strict": True}}, data_dir=home, env={})


def build(home: Path, size: int, *, dimension: int, sample: int, seed: int
          ) -> tuple[list[tuple[str, str]], float]:
    """Make a store of ``size`` memories; return ``sample`` random ``(id, scope)`` of them
    and the seconds the build took."""
    import numpy as np

    from athena_core import Athena
    from athena_core._ids import new_id

    started = time.perf_counter()
    Athena.open(config=_config(home, dimension)).close()  # the schema, the embedder row
    workload, rnd = Workload(seed=seed), random.Random(seed)
    rng = np.random.default_rng(seed)
    chosen = set(rnd.sample(range(size), min(sample, size)))
    picked: list[tuple[str, str]] = []
    conn = sqlite3.connect(home / "athena.db", isolation_level=None)
    for pragma in _PRAGMAS:
        conn.execute(pragma)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    progress = Progress(f"inserting {size:,} memories")
    next_pk = (conn.execute("SELECT max(pk) FROM memories").fetchone()[0] or 0) + 1
    for start in range(0, size, _BULK_BATCH):
        count = min(_BULK_BATCH, size - start)
        memories, facts = [], []
        for number in range(start, start + count):
            memory, memory_id = workload.memory(rnd, number), new_id()
            memories.append((next_pk + number, memory_id, memory["scope"], memory["text"],
                             json.dumps(memory["metadata"]), memory["importance"], now, now,
                             now))
            facts.append((next_pk + number, memory_id))
            if number in chosen:
                picked.append((memory_id, memory["scope"]))
        vectors = rng.standard_normal((count, dimension), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO memories (pk, id, scope, layer, text, metadata, importance, "
            "created_at, updated_at, valid_from, valid_to) "
            "VALUES (?, ?, ?, 'semantic', ?, ?, ?, ?, ?, ?, NULL)", memories)
        conn.executemany("INSERT INTO embeddings (memory_pk, vector) VALUES (?, ?)",
                         ((row[0], vector.tobytes())
                          for row, vector in zip(memories, vectors, strict=True)))
        conn.executemany("INSERT INTO facts (memory_pk, lineage_id, version) VALUES (?, ?, 1)",
                         facts)
        conn.execute("COMMIT")
        progress(start + count, size)
    note("  merging the full-text index")
    conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    rnd.shuffle(picked)
    return picked, time.perf_counter() - started


def measure(home: Path, picked: list[tuple[str, str]], *, dimension: int,
            baseline: int) -> dict[str, Any]:
    """Time one forget per picked memory, then the plain-SQL baseline on other memories."""
    from athena_core import Athena

    clock = time.perf_counter
    forgets: list[float] = []
    athena = Athena.open(config=_config(home, dimension))
    try:
        started = clock()
        athena.recall("warm up the vector index", k=10, scope=picked[0][1])
        load = clock() - started
        progress = Progress(f"forgetting {len(picked):,} memories")
        for memory_id, scope in picked:
            started = clock()
            athena.forget(memory_id, scope=scope)
            forgets.append(clock() - started)
            progress(len(forgets), len(picked))
        started = clock()
        athena.checkpoint()
        checkpoint = clock() - started
    finally:
        athena.close()
    conn = sqlite3.connect(home / "athena.db", isolation_level=None)
    for pragma in _PRAGMAS:
        conn.execute(pragma)
    keys = [pk for (pk,) in conn.execute(f"SELECT pk FROM memories ORDER BY random() "
                                         f"LIMIT {baseline}")]
    deletes = []
    for pk in keys:
        started = clock()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM memories WHERE pk = ?", (pk,))
        conn.execute("COMMIT")
        deletes.append(clock() - started)
    conn.close()
    return {"forget": summary(forgets), "sql_delete": summary(deletes),
            "vector_load_s": load, "checkpoint_after_s": checkpoint}


def _sizes(text: str) -> list[int]:
    return sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/forget_cost.py",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_sizes, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--forgets", type=int, default=1_000)
    parser.add_argument("--baseline-deletes", type=int, default=200)
    parser.add_argument("--dimension", type=int, default=64)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="athena-forget-", dir=args.workdir))
    results: dict[str, Any] = {"machine": machine(workdir), "forgets": args.forgets,
                               "dimension": args.dimension, "sizes": []}
    try:
        for size in args.sizes:
            home = workdir / f"store-{size}"
            note(f"store of {size:,} memories")
            picked, built = build(home, size, dimension=args.dimension,
                                  sample=args.forgets, seed=args.seed)
            figures = measure(home, picked, dimension=args.dimension,
                              baseline=args.baseline_deletes)
            results["sizes"].append({"size": size, "build_s": built, **figures})
            if not args.keep:
                shutil.rmtree(home)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(_table(results))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    return 0


def _table(results: dict[str, Any]) -> str:
    rows = results["sizes"]
    first = rows[0]
    lines = [f"forget(id), {results['forgets']:,} calls per size, one memory each "
             f"(dimension {results['dimension']}); ratios against {first['size']:,} memories",
             "",
             "| memories | forget p50 | forget mean | ratio (p50) | sqlite3 delete p50 | "
             "ratio (p50) | checkpoint after |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        forget, delete = row["forget"], row["sql_delete"]
        lines.append(
            f"| {row['size']:,} | {forget['p50_ms']:.2f} ms | {forget['mean_ms']:.2f} ms | "
            f"{forget['p50_ms'] / first['forget']['p50_ms']:.2f}x | "
            f"{delete['p50_ms']:.2f} ms | "
            f"{delete['p50_ms'] / first['sql_delete']['p50_ms']:.2f}x | "
            f"{row['checkpoint_after_s']:.2f} s |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
