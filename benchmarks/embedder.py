"""An embedder's runtimes (minilm by default, or mpnet): ONNX Runtime (the default) against
numpy, same run.

Texts are LoCoMo's: its questions embedded one at a time (what recall does) and its
turns embedded in bulk (what import and ``athena reindex`` do). The runtimes take turns
sample by sample, so a busy machine slows both alike; the ratio is the figure to
compare. Also checks that both give the same vectors.

    python benchmarks/embedder.py                # 300 questions, 1,000 turns
    python benchmarks/embedder.py --model mpnet  # all-mpnet-base-v2 instead of MiniLM
    python benchmarks/embedder.py --threads 2    # two threads per forward pass
    python benchmarks/embedder.py --json FILE    # also the results as JSON
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from athena_minilm import RUNTIMES, MiniLMEmbedder, MPNetEmbedder, SentenceEmbedder
from locomo import DEFAULT_DATA, load
from timing import machine, publish, summary

BASELINE = "numpy"
MODELS: dict[str, type[SentenceEmbedder]] = {"minilm": MiniLMEmbedder, "mpnet": MPNetEmbedder}


def measure(model: str, questions: list[str], turns: list[str], *, threads: int = 1) -> dict:
    embedders = {runtime: MODELS[model](runtime=runtime, cache_size=0, threads=threads)
                 for runtime in RUNTIMES}
    result: dict = {"model": embedders[BASELINE].identity, "threads": threads,
                    "first_embed_ms": {}, "query": {}, "bulk_texts_per_s": {}}
    for runtime, embedder in embedders.items():
        start = time.perf_counter()
        embedder.embed(["load the model"])
        result["first_embed_ms"][runtime] = (time.perf_counter() - start) * 1000
    samples: dict[str, list[float]] = {runtime: [] for runtime in RUNTIMES}
    for question in questions:
        for runtime, embedder in embedders.items():
            start = time.perf_counter()
            embedder.embed([question], purpose="query")
            samples[runtime].append(time.perf_counter() - start)
    vectors = {}
    for runtime, embedder in embedders.items():
        start = time.perf_counter()
        vectors[runtime] = embedder.embed(turns)
        result["bulk_texts_per_s"][runtime] = len(turns) / (time.perf_counter() - start)
        result["query"][runtime] = summary(samples[runtime])
    cosines = (vectors["onnxruntime"] * vectors[BASELINE]).sum(axis=1)
    result["min_cosine_between_runtimes"] = float(cosines.min())
    return result


def render(result: dict) -> str:
    query, bulk = result["query"], result["bulk_texts_per_s"]
    lines = [f"{result['model']}, {result['threads']} thread(s) per forward pass", "",
             f"{'runtime':<28}{'first embed':>12}{'query p50':>11}{'p95':>8}"
             f"{'bulk texts/s':>14}", "-" * 73]
    for runtime in RUNTIMES:
        label = runtime + (" (baseline)" if runtime == BASELINE else "")
        lines.append(f"{label:<28}{result['first_embed_ms'][runtime]:>9.0f} ms"
                     f"{query[runtime]['p50_ms']:>8.2f} ms{query[runtime]['p95_ms']:>8.2f}"
                     f"{bulk[runtime]:>14.0f}")
    fast, slow = query["onnxruntime"], query[BASELINE]
    lines += ["",
              f"onnxruntime / numpy: query p50 {fast['p50_ms'] / slow['p50_ms']:.2f}x, "
              f"p95 {fast['p95_ms'] / slow['p95_ms']:.2f}x; bulk throughput "
              f"{bulk['onnxruntime'] / bulk[BASELINE]:.2f}x",
              f"lowest cosine between the runtimes' vectors: "
              f"{result['min_cosine_between_runtimes']:.6f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="minilm")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per forward pass (the embedders' `threads` option)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    conversations = load(args.data)
    questions = [q.text for c in conversations for q in c.questions][:args.questions]
    turns = [t.text for c in conversations for t in c.turns][:args.turns]
    result = measure(args.model, questions, turns, threads=args.threads)
    result["machine"] = machine(Path.cwd())
    result["command"] = "python benchmarks/embedder.py " + " ".join(argv or sys.argv[1:])
    publish(result, render(result), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
