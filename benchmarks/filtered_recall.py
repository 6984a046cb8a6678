"""Filtered recall: what a metadata filter costs, against unfiltered recall in the same run.

    python benchmarks/filtered_recall.py                     # 1,000,000 memories
    python benchmarks/filtered_recall.py --size 200000       # a quicker run
    python benchmarks/filtered_recall.py --keep --home D     # keep the store in D ...
    python benchmarks/filtered_recall.py --home D --reuse    # ... and measure it again

The store is filled with ``athena_core.testing.bulk.bulk_fill``: rows written
straight into the tables, each with a random unit vector (not an embedding) and a
text of eight words drawn from a 5,000-word vocabulary, so that a million memories
take minutes rather than the hours a model would need. Queries are three words of
that vocabulary, embedded by the hashing embedder at the same dimension.

Each query is recalled (k=10) unfiltered and with each filter, interleaved query by
query so that noise on a shared machine hits all alike. The filters match 50%, 10%
and 1% of the memories, and 300,000 memories (the filter that used to fail with
"too many SQL variables" on SQLite). Printed: p50/p95 per case and each one's ratio
to the unfiltered p50/p95. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from timing import Progress, note, summary

from athena_core import Athena
from athena_core.config import Config
from athena_core.testing.bulk import bulk_fill

K = 10
VOCABULARY = 5_000
WORDS_PER_TEXT = 8
BATCH = 50_000
#: The cases: a name and the metadata filter (``None``: unfiltered).
CASES: list[tuple[str, dict[str, Any] | None]] = [
    ("unfiltered", None),
    ("50%", {"half": True}),
    ("10%", {"tenth": {"in": [0]}}),
    ("1%", {"hundredth": {"contains": 0}}),
    ("n < 300,000", {"n": {"lt": 300_000}}),
]


def _words(seed: int) -> list[str]:
    rnd = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rnd.choice(letters) for _ in range(rnd.randint(4, 9))))
    return sorted(words)


def _open(home: Path, dimension: int) -> Athena:
    config = Config.from_mapping(
        {"retrieval": {"embedder": "hashing", "embedder_options": {"dimension": dimension}},
         "plugins": {"strict": True}}, data_dir=home, env={})
    return Athena.open(config=config)


def build(athena: Athena, size: int, seed: int) -> None:
    words = _words(seed)
    rnd = random.Random(seed)
    progress = Progress("filling")
    done = 0
    while done < size:
        count = min(BATCH, size - done)
        texts = [" ".join(rnd.choice(words) for _ in range(WORDS_PER_TEXT))
                 for _ in range(count)]
        bulk_fill(athena, count, text=lambda i, texts=texts: texts[i],  # type: ignore[misc]
                  metadata=lambda i, base=done: _metadata(base + i), seed=seed + done)
        done += count
        progress(done, size)


def _metadata(n: int) -> dict[str, Any]:
    return {"n": n, "half": n % 2 == 0, "tenth": n % 10, "hundredth": [n % 100, "x"]}


def measure(athena: Athena, samples: int, seed: int) -> dict[str, dict[str, Any]]:
    words = _words(seed)
    rnd = random.Random(seed + 1)
    queries = [" ".join(rnd.choice(words) for _ in range(3)) for _ in range(samples)]
    start = time.perf_counter()
    athena.recall("warm up", k=K)  # loads the vector index: not part of any sample
    note(f"vector index loaded in {time.perf_counter() - start:.1f} s")
    for _, wanted in CASES:  # one untimed recall of each case
        athena.recall(queries[0], k=K, metadata=wanted)
    times: dict[str, list[float]] = {name: [] for name, _ in CASES}
    found: dict[str, int] = {name: 0 for name, _ in CASES}
    for i, query in enumerate(queries):
        order = CASES[i % len(CASES):] + CASES[:i % len(CASES)]
        for name, wanted in order:
            began = time.perf_counter()
            hits = athena.recall(query, k=K, metadata=wanted)
            times[name].append(time.perf_counter() - began)
            found[name] += len(hits)
    return {name: {**summary(times[name]), "hits_per_query": found[name] / samples}
            for name, _ in CASES}


def render(size: int, results: dict[str, dict[str, Any]]) -> str:
    base = results["unfiltered"]
    lines = [f"recall k={K} at {size:,} memories ({base['n']} queries per case)",
             f"{'filter':<14}{'p50 ms':>9}{'p95 ms':>9}{'p50 ratio':>11}{'p95 ratio':>11}"
             f"{'hits':>7}"]
    for name, figures in results.items():
        lines.append(f"{name:<14}{figures['p50_ms']:>9.1f}{figures['p95_ms']:>9.1f}"
                     f"{figures['p50_ms'] / base['p50_ms']:>10.2f}x"
                     f"{figures['p95_ms'] / base['p95_ms']:>10.2f}x"
                     f"{figures['hits_per_query']:>7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, help="the store's data dir (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="measure the store in --home")
    parser.add_argument("--keep", action="store_true", help="keep the store afterwards")
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="athena-filtered-")) / "store"
    try:
        athena = _open(home, args.dimension)
        try:
            if not args.reuse:
                began = time.perf_counter()
                build(athena, args.size, args.seed)
                note(f"filled {args.size:,} memories in {time.perf_counter() - began:.0f} s")
        finally:
            athena.close()
        athena = _open(home, args.dimension)  # a fresh process state, as a new server has
        try:
            results = measure(athena, args.samples, args.seed)
        finally:
            athena.close()
    finally:
        if not args.keep and not args.reuse:
            shutil.rmtree(home, ignore_errors=True)
    print(render(args.size, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
