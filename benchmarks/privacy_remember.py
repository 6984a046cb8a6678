"""``remember`` with sensitive values concealed and encrypted, against the same without.

    python benchmarks/privacy_remember.py                  # about a minute
    python benchmarks/privacy_remember.py --texts privacy --embedder hashing --json

Two stores in one process, one with ``[privacy] conceal = true`` (the default: detection,
placeholders, AES-256-GCM into the vault) and one with ``conceal = false`` (the baseline),
each given the same texts in alternation, so both see the same machine and the same
growing store size. The texts (``--texts``, see :func:`corpus`) are the core
benchmark's memories with one planted value each, or the privacy benchmark's documents
with several. Printed: p50 and p95 of each, the difference, and the budget (``remember``
p95 <= 25 ms with the default embedder, ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from privacy import PERSONAL_GENERATORS, SECRET_GENERATORS, SET_A, generate
from timing import machine, summary
from workload import Workload

from athena_core import Athena
from athena_core.config import Config
from athena_core.retrieval.embedders import preferred_embedder

BUDGET_MS = 25.0


def corpus(kind: str, samples: int, seed: int) -> list[str]:
    """``privacy``: the development corpus of benchmarks/privacy.py (documents of about 570
    bytes with several planted values each). ``workload``: the core benchmark's memories
    (benchmarks/workload.py, about 110 bytes), each with one planted value of a random
    type - what the ``remember`` budget is measured on, plus a value to conceal."""
    rnd = random.Random(seed)
    if kind == "privacy":
        texts = [d.text for d in generate(seed, samples, SET_A,
                                          {**PERSONAL_GENERATORS, **SECRET_GENERATORS})]
        rnd.shuffle(texts)
        return texts
    generators = sorted({**PERSONAL_GENERATORS, **SECRET_GENERATORS}.items())
    memories = Workload(seed=seed).new_memories(samples)
    texts = []
    for memory in memories:
        _, make = rnd.choice(generators)
        texts.append(f"{memory['text']} ({make(rnd)})")
    return texts


def measure(samples: int, seed: int, embedder: str | None, kind: str = "privacy"
            ) -> dict[str, Any]:
    texts = corpus(kind, samples, seed)
    times: dict[str, list[float]] = {"conceal": [], "plain": []}
    with tempfile.TemporaryDirectory() as on_home, tempfile.TemporaryDirectory() as off_home:
        stores = {}
        for label, home, conceal in (("conceal", on_home, True), ("plain", off_home, False)):
            raw: dict[str, Any] = {"privacy": {"conceal": conceal}}
            if embedder:
                raw["retrieval"] = {"embedder": embedder}
            stores[label] = Athena.open(config=Config.from_mapping(raw, data_dir=Path(home),
                                                                   env={}))
        try:
            used = stores["conceal"].config.retrieval.embedder or preferred_embedder(
                stores["conceal"].plugins.registry("embedder").names())
            for text in texts[:20]:  # warm up both
                for athena in stores.values():
                    athena.remember(text)
            for text in texts:
                for label, athena in stores.items():
                    started = time.perf_counter()
                    athena.remember(text)
                    times[label].append(time.perf_counter() - started)
            kept = stores["conceal"].privacy.key_status()["values"]
        finally:
            for athena in stores.values():
                athena.close()
    return {"embedder": used, "samples": samples, "values_kept": kept, "texts": kind,
            "mean_text_bytes": sum(len(t.encode()) for t in texts) / len(texts),
            "conceal": summary(times["conceal"]), "plain": summary(times["plain"])}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--embedder", help="default: the one Athena would choose")
    parser.add_argument("--texts", choices=("privacy", "workload"), default="workload",
                        help="the texts remembered (default: workload, see corpus())")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.samples, args.seed, args.embedder, args.texts)
    result["machine"] = machine(Path(tempfile.gettempdir()))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    on, off = result["conceal"], result["plain"]
    print(f"remember, {result['samples']} {result['texts']} texts of "
          f"{result['mean_text_bytes']:.0f} bytes on average, embedder {result['embedder']}; "
          f"{result['values_kept']:,} values kept")
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'conceal = false (baseline)':28}{off['p50_ms']:>10.2f}{off['p95_ms']:>10.2f}")
    print(f"{'conceal = true':28}{on['p50_ms']:>10.2f}{on['p95_ms']:>10.2f}")
    print(f"{'difference':28}{on['p50_ms'] - off['p50_ms']:>+10.2f}"
          f"{on['p95_ms'] - off['p95_ms']:>+10.2f}")
    verdict = "MET" if on["p95_ms"] <= BUDGET_MS else "MISSED"
    print(f"budget: remember p95 <= {BUDGET_MS:.0f} ms with concealment on: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
