"""Recall at scale: the faiss vector backend against the built-in exact one, same store.

    python benchmarks/scale.py                      # 1,000,000 memories (about 17 minutes here)
    python benchmarks/scale.py --size 100000        # a quicker run (a few minutes)
    python benchmarks/scale.py --keep --workdir D   # keep the store (D/store-N) ...
    python benchmarks/scale.py --home D/store-N     # ... and measure it again, no ingest
    python benchmarks/scale.py --home D/store-N --recall-only   # recall latency only
    python benchmarks/scale.py --json out.json      # also write the results as JSON
    python benchmarks/scale.py --sweep --size 350000  # faiss index settings compared
    python benchmarks/scale.py --query-model minilm  # recall pays MiniLM's query embedding

Memories go in through Athena's real write path (``athena import``'s code: one
write transaction, SQLite WAL, ``synchronous=full``) into a data dir that uses the
faiss backend, live in the importing process, which adds the imported entries to it
right after the import (timed with it), as a long-running process's next recall would.
Then fresh processes measure: rebuilding the faiss index from the database, the
save it makes on close, loading that save, loading the exact backend, and finally
``recall`` k=10 p50/p95 with both backends open on the same store, interleaved
query by query, with the dense and full-text halves timed on their own.

Vectors come from the *topic* embedder defined here and registered only in these
processes: each word has a fixed pseudo-random 384-dimension vector, topic words
lie near their topic's centroid in a low-rank subspace, and a text's vector is
the weighted sum of its words' vectors, normalised. It costs a few microseconds a
text, where the minilm model would need about 12 hours for 1M texts here (24
texts/s, decision 7), and it gives clustered vectors of a model's dimension; it
does not model meaning, so no retrieval quality is claimed from it beyond the
agreement of faiss with exact search on the same vectors.

With ``--query-model minilm``, recall also embeds each query with that installed
model and throws the vector away, so the latency includes a real model's query
embedding (stored texts still get topic vectors).

Progress goes to stderr; figures and ratios to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import run
from core import CLEAN_ENV, K
from timing import Progress, machine, memory_mb, note, publish, summary
from workload import Workload, _vocabulary

from athena_core.hookspecs import hookimpl

__all__ = ["TopicEmbedder", "TopicWorkload", "main"]

HERE = Path(__file__).resolve()
DIMENSION = 384
#: Topics, words of each topic, share of a memory's words drawn from its topic.
TOPICS, TOPIC_WORDS, TOPIC_SHARE = 1000, 12, 0.35
#: Weight of a background (Zipf) word against a topic word in the embedding, as an idf
#: would have it.
BACKGROUND_WEIGHT = 0.3
_WORD = re.compile(r"[a-z]+")


# --- workload and embedder -------------------------------------------------------------------


class TopicWorkload(Workload):
    """:class:`Workload` whose memories each have a topic: a share of their words comes
    from the topic's own small vocabulary (topics are Zipf-distributed, s = 0.5)."""

    def __init__(self, *, seed: int) -> None:
        super().__init__(seed=seed)
        base = len(self.words)
        words = _vocabulary(base + TOPICS * TOPIC_WORDS, random.Random(seed))
        assert words[:base] == self.words  # the same generator, continued
        self.topic_words = [words[base + t * TOPIC_WORDS: base + (t + 1) * TOPIC_WORDS]
                            for t in range(TOPICS)]
        self._topic_cum = list(itertools.accumulate(
            1.0 / rank ** 0.5 for rank in range(1, TOPICS + 1)))

    def _topic(self, rnd: random.Random) -> list[str]:
        return self.topic_words[rnd.choices(range(TOPICS), cum_weights=self._topic_cum)[0]]

    def _mixed(self, rnd: random.Random, count: int, share: float) -> list[str]:
        topic = self._topic(rnd)
        background = self._words(rnd, count)
        return [rnd.choice(topic) if rnd.random() < share else word for word in background]

    def sentence(self, rnd: random.Random) -> str:
        return " ".join(self._mixed(rnd, rnd.randint(8, 40), TOPIC_SHARE)).capitalize() + "."

    def queries(self, count: int, *, stream: int = 2) -> list[tuple[str, str]]:
        rnd = random.Random(f"{self.seed}/queries/{stream}")
        return [(" ".join(self._mixed(rnd, rnd.randint(3, 8), 0.5)), self.scope(rnd))
                for _ in range(count)]


class TopicEmbedder:
    """Weighted sum of fixed word vectors (see the module docstring); benchmark only."""

    def __init__(self, workload: TopicWorkload, *, rank: int = 8) -> None:
        import numpy as np

        self._np = np
        rng = np.random.default_rng(workload.seed)
        background = rng.standard_normal((len(workload.words), DIMENSION), dtype=np.float32)
        background *= BACKGROUND_WEIGHT / np.linalg.norm(background, axis=1, keepdims=True)
        centroids = rng.standard_normal((TOPICS, DIMENSION), dtype=np.float32)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        bases = rng.standard_normal((TOPICS, rank, DIMENSION), dtype=np.float32)
        bases /= np.sqrt(DIMENSION)
        offsets = rng.standard_normal((TOPICS, TOPIC_WORDS, rank), dtype=np.float32)
        topical = centroids[:, None, :] + np.einsum("twr,trd->twd", offsets, bases)
        topical = topical.reshape(TOPICS * TOPIC_WORDS, DIMENSION)
        topical /= np.linalg.norm(topical, axis=1, keepdims=True)
        self._matrix = np.concatenate([background, topical])
        words = workload.words + [w for topic in workload.topic_words for w in topic]
        self._ids = {word: i for i, word in enumerate(words)}
        self.identity = f"bench-topics-v1/{DIMENSION}/seed{workload.seed}"
        self.dimension = DIMENSION

    def _id(self, word: str) -> int:
        found = self._ids.get(word)
        if found is None:  # a word of no topic: a fixed vector of its own
            np = self._np
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
            vector *= BACKGROUND_WEIGHT / np.linalg.norm(vector)
            found = self._ids[word] = len(self._matrix)
            self._matrix = np.concatenate([self._matrix, vector[None]])
        return found

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> Any:
        np = self._np
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        ids: list[int] = []
        starts, rows = [], []
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            if words:
                starts.append(len(ids))
                rows.append(row)
                ids.extend(self._id(word) for word in words)
        if ids:
            out[rows] = np.add.reduceat(self._matrix[ids], starts, axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


class QueryCostEmbedder:
    """The topic embedder's vectors at a real model's cost: a query is embedded by the model
    too (its vector thrown away), so recall pays for it exactly where it would. Stored
    texts are not: 1M of them through the model would take hours here."""

    def __init__(self, topics: TopicEmbedder, model: Any) -> None:
        self._topics, self._model = topics, model
        self.identity, self.dimension = topics.identity, topics.dimension

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> Any:
        if purpose == "query":
            self._model.embed(texts, purpose="query")
        return self._topics.embed(texts, purpose=purpose)


class TopicPlugin:
    """Registers the topic embedder as ``bench-topics`` (in the benchmark's processes only)."""

    def __init__(self, seed: int, query_model: str = "",
                 query_model_options: dict[str, Any] | None = None) -> None:
        self.seed = seed
        self.query_model = query_model
        self.query_model_options = query_model_options or {}

    @hookimpl
    def athena_register_embedders(self, register: Any) -> None:
        embedder: Any = TopicEmbedder(TopicWorkload(seed=self.seed))
        if self.query_model:
            embedder = QueryCostEmbedder(embedder, _installed_embedder(
                self.query_model, self.query_model_options))
        register("bench-topics", lambda context: embedder)


def _installed_embedder(name: str, options: dict[str, Any]) -> Any:
    from athena_core.plugins import PluginHost
    from athena_core.retrieval import EmbedderContext

    host = PluginHost()
    host.load_entry_points()
    return host.registry("embedder").create(name, EmbedderContext(options=options))


def open_athena(home: Path, backend: str, seed: int, options: dict[str, Any],
                query_model: str = "", query_model_options: dict[str, Any] | None = None
                ) -> Any:
    from athena_core import Athena
    from athena_core.config import Config

    retrieval: dict[str, Any] = {"embedder": "bench-topics", "vector_backend": backend}
    if backend == "faiss":
        retrieval["vector_options"] = options
    config = Config.from_mapping({"retrieval": retrieval, "plugins": {"strict": True}},
                                 data_dir=home, env={})
    return Athena.open(config=config,
                       plugins=[TopicPlugin(seed, query_model, query_model_options)])


def _index_dir(home: Path) -> Path:
    return home / "vectors" / "faiss"


def _bytes(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in path.glob(pattern) if p.is_file())


# --- steps (each in a fresh process) ----------------------------------------------------------


def step_build(home: Path, size: int, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """Ingest ``size`` memories through ``athena import``'s code path, faiss index live."""
    from athena_core.transfer import import_jsonl

    clock = time.perf_counter
    home.mkdir(parents=True, exist_ok=True)
    workload = TopicWorkload(seed=seed)
    export = home.parent / f"{home.name}.jsonl"
    started = clock()
    workload.write_export(export, size, Progress(f"generating {size:,} memories"))
    result: dict[str, Any] = {"generate_s": clock() - started}
    athena = open_athena(home, "faiss", seed, options)
    athena.recall("warm up", k=K)  # the index is live: ingested entries are saved on close
    sample = [workload.sentence(random.Random(i)) for i in range(20_000)]
    started = clock()
    athena.index.embed(sample)
    result["embed_per_s"] = len(sample) / (clock() - started)
    started = clock()
    with export.open("rb") as source:
        report = import_jsonl(athena, source, progress=lambda phase: Progress(
            f"importing {size:,} memories: {phase}"))
    athena.index.sync()  # the import leaves its entries to the next sync: add them now
    result["import_s"] = clock() - started
    result["memories_per_s"] = report.imported / result["import_s"]
    result["imported"] = report.imported
    started = clock()
    athena.checkpoint()
    result["wal_checkpoint_s"] = clock() - started
    result["graph_scopes"] = len(athena.index.backend.graph_scopes())
    result["memory"] = memory_mb()
    started = clock()
    athena.close()
    result["close_s"] = clock() - started  # saves the faiss index
    export.unlink()
    result["db_bytes"] = _bytes(home, "athena.db*")
    result["index_bytes"] = _bytes(_index_dir(home))
    return result


def _first_recall(home: Path, backend: str, seed: int, options: dict[str, Any],
                  query: tuple[str, str]) -> tuple[Any, dict[str, Any]]:
    clock = time.perf_counter
    result: dict[str, Any] = {"memory": {"start": memory_mb()}}
    started = clock()
    athena = open_athena(home, backend, seed, options)
    result["open_s"] = clock() - started
    started = clock()
    athena.recall(query[0], k=K, scope=query[1])
    result["first_recall_s"] = clock() - started
    result["memory"]["after_first_recall"] = memory_mb()
    result["entries"] = len(athena.index.backend)
    return athena, result


def step_rebuild(home: Path, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """No saved index: the first recall rebuilds it from the database; close saves it."""
    shutil.rmtree(_index_dir(home), ignore_errors=True)
    query = TopicWorkload(seed=seed).queries(1, stream=9)[0]
    athena, result = _first_recall(home, "faiss", seed, options, query)
    result["graph_scopes"] = len(athena.index.backend.graph_scopes())
    started = time.perf_counter()
    athena.close()
    result["close_s"] = time.perf_counter() - started
    result["index_bytes"] = _bytes(_index_dir(home))
    return result


def step_load(home: Path, backend: str, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """The first recall of a process: loads the saved faiss index, or every vector (exact)."""
    query = TopicWorkload(seed=seed).queries(1, stream=9)[0]
    athena, result = _first_recall(home, backend, seed, options, query)
    athena.close()
    return result


def step_measure(home: Path, seed: int, options: dict[str, Any], samples: int,
                 query_model: str = "", query_model_options: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Both backends open on the store; recall and its halves timed query by query."""
    from athena_core.retrieval.filters import RecallFilter
    from athena_core.retrieval.lexical import DocumentFrequencies, lexical_search

    clock = time.perf_counter
    workload = TopicWorkload(seed=seed)
    warmup = max(3, min(10, samples // 10))
    queries = workload.queries(samples + warmup)
    faiss_athena, exact_athena = (
        open_athena(home, backend, seed, options, query_model, query_model_options)
        for backend in ("faiss", "exact"))
    for athena in (faiss_athena, exact_athena):
        athena.recall(queries[0][0], k=K, scope=queries[0][1])  # load the indexes
    faiss_index, exact_index = faiss_athena.index, exact_athena.index
    pool = max(faiss_index.settings.candidates, K)
    storage = faiss_athena.storage
    frequencies = DocumentFrequencies()  # cached across queries, as recall's own is

    def lexical(query: str, where: Any) -> None:
        with storage.read() as session:
            lexical_search(session, query, limit=pool, where=where, frequencies=frequencies)

    parts = ("faiss", "exact", "faiss_dense", "exact_dense", "lexical", "sync")
    times: dict[str, list[float]] = {name: [] for name in parts}
    dense_overlap: list[float] = []
    fused_overlap: list[float] = []
    progress = Progress(f"recall, {len(queries):,} queries x {len(parts)}")
    for number, (query, scope) in enumerate(queries):
        where = RecallFilter(scope)
        vector = faiss_index.embedder.embed([query], purpose="query")[0]
        found: dict[str, Any] = {}
        steps = {
            "faiss": lambda q=query, s=scope: faiss_athena.recall(q, k=K, scope=s),
            "exact": lambda q=query, s=scope: exact_athena.recall(q, k=K, scope=s),
            "faiss_dense": lambda v=vector, w=where: faiss_index.backend.search(v, k=pool,
                                                                               where=w),
            "exact_dense": lambda v=vector, w=where: exact_index.backend.search(v, k=pool,
                                                                               where=w),
            "lexical": lambda q=query, w=where: lexical(q, w),
            "sync": faiss_index.sync,
        }
        order = parts[number % len(parts):] + parts[:number % len(parts)]
        for name in order:
            started = clock()
            found[name] = steps[name]()
            elapsed = clock() - started
            if number >= warmup:
                times[name].append(elapsed)
        truth = {key for key, _ in found["exact_dense"][:K]}
        if truth:
            dense_overlap.append(len(truth & {key for key, _ in found["faiss_dense"][:K]})
                                 / len(truth))
        exact_ids = {hit.id for hit in found["exact"]}
        if exact_ids:
            fused_overlap.append(len(exact_ids & {hit.id for hit in found["faiss"]})
                                 / len(exact_ids))
        progress(number + 1, len(queries))
    # The same backend alone, on other queries: no exact search in between to evict the
    # graph and the model from the CPU caches, as in a process that only serves recalls.
    alone = []
    exact_athena.close()
    for query, scope in workload.queries(samples, stream=4):
        started = clock()
        faiss_athena.recall(query, k=K, scope=scope)
        alone.append(clock() - started)
    result: dict[str, Any] = {name: summary(values) for name, values in times.items()}
    result["faiss_alone"] = summary(alone)
    result["dense_recall_at_10"] = sum(dense_overlap) / max(len(dense_overlap), 1)
    result["fused_overlap_at_10"] = sum(fused_overlap) / max(len(fused_overlap), 1)
    result["pool"] = pool
    result["graph_scopes"] = faiss_index.backend.graph_scopes()
    result["memory"] = memory_mb()
    faiss_athena.close()
    return result


def sweep(size: int, seed: int) -> dict[str, Any]:
    """faiss index configurations on the same vectors: build time, size, recall and speed.

    What chose the backend's defaults (docs/decisions/0008-faiss-index.md): vectors of
    ``size`` memories of one scope, 200 queries, filters leaving a share of the rows
    (as layers or time ranges do), recall@10 against exact search with the same filter.
    """
    import faiss
    import numpy as np

    clock = time.perf_counter
    workload = TopicWorkload(seed=seed)
    embedder = TopicEmbedder(workload)
    texts = [record["text"] for record in workload.export_records(size)]
    started = clock()
    vectors = np.concatenate([embedder.embed(texts[i:i + 4096])
                              for i in range(0, size, 4096)])
    note(f"  embedded {size:,} texts in {clock() - started:.0f} s")
    queries = embedder.embed([q for q, _ in workload.queries(200, stream=5)], purpose="query")
    rng = np.random.default_rng(seed)
    shares = (1.0, 0.2, 0.06, 0.03)
    masks = {share: rng.random(size) < share if share < 1 else np.ones(size, bool)
             for share in shares}
    scores = queries @ vectors.T
    truth = {share: [set(np.argsort(-np.where(mask, row, -np.inf))[:K].tolist())
                     for row in scores] for share, mask in masks.items()}
    del scores
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    kinds = {"float32": None, "float16": faiss.ScalarQuantizer.QT_fp16,
             "int8": faiss.ScalarQuantizer.QT_8bit}
    configs = [(32, 40, "float32"), (32, 100, "float32"), (16, 40, "float32"),
               (32, 40, "float16"), (32, 40, "int8")]
    results: dict[str, Any] = {"size": size, "dimension": DIMENSION, "configs": []}
    for m, ef_construction, kind in configs:
        label = f"M={m} efConstruction={ef_construction} {kind}"
        note(f"  building {label}")
        quantizer = kinds[kind]
        index = (faiss.IndexHNSWFlat(DIMENSION, m, faiss.METRIC_INNER_PRODUCT)
                 if quantizer is None else
                 faiss.IndexHNSWSQ(DIMENSION, quantizer, m, faiss.METRIC_INNER_PRODUCT))
        index.hnsw.efConstruction = ef_construction
        started = clock()
        if not index.is_trained:
            index.train(vectors[:200_000])
        for start in range(0, size, 65_536):
            index.add(vectors[start:start + 65_536])
        built = clock() - started
        row: dict[str, Any] = {"label": label, "build_s": built,
                               "bytes": int(faiss.serialize_index(index).size), "search": {}}
        for share, mask in masks.items():
            selector = (faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
                        if share < 1 else None)
            for ef in (128, 256, 512, 768):
                params = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)
                hits, took = 0, []
                for query, wanted in zip(queries, truth[share], strict=True):
                    started = clock()
                    _, found = index.search(query[None], 50, params=params)
                    took.append(clock() - started)
                    hits += len(wanted & set(found[0][:K].tolist()))
                row["search"][f"{share}/{ef}"] = {"recall": hits / (K * len(queries)),
                                                  **summary(took)}
        results["configs"].append(row)
        del index
    exact = []
    for query in queries[:50]:
        started = clock()
        top = np.argpartition(-(vectors @ query), K)[:K]
        top[np.argsort(-(vectors @ query)[top])]
        exact.append(clock() - started)
    results["exact"] = summary(exact)
    return results


def render_sweep(results: dict[str, Any]) -> str:
    size = results["size"]
    lines = [f"faiss HNSW configurations on {size:,} x {results['dimension']} topic vectors "
             "(one scope); recall@10 against exact search with the same filter / p50 ms",
             f"exact numpy search over all {size:,}: p50 {results['exact']['p50_ms']:.1f} ms",
             ""]
    for row in results["configs"]:
        lines.append(f"{row['label']}: built in {row['build_s']:.0f} s, "
                     f"{row['bytes'] / 2**20:.0f} MiB")
        for share in ("1.0", "0.2", "0.06", "0.03"):
            cells = "  ".join(
                f"ef {ef}: {row['search'][f'{share}/{ef}']['recall']:.3f} / "
                f"{row['search'][f'{share}/{ef}']['p50_ms']:.2f}" for ef in (128, 256, 512, 768))
            lines.append(f"  filter keeps {float(share):4.0%}  {cells}")
    return "\n".join(lines)


# --- the runner ------------------------------------------------------------------------------


def _child(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(HERE), "_step", *args], stdout=subprocess.PIPE,
                          text=True, env=CLEAN_ENV, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step {' '.join(args)!r} failed (exit {proc.returncode})")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python benchmarks/scale.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000,
                        help="memories in the store (default 1,000,000)")
    parser.add_argument("--recall-samples", type=int, default=300, metavar="N",
                        help="timed queries (default 300)")
    parser.add_argument("--faiss-options", default="{}", metavar="JSON",
                        help='vector_options of the faiss backend, e.g. \'{"ef_search": 64}\'')
    parser.add_argument("--home", type=Path, metavar="DIR",
                        help="measure this existing store (built by an earlier --keep run) "
                             "instead of building one")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="where to build the store (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the built store")
    parser.add_argument("--recall-only", action="store_true",
                        help="with --home: measure recall only (no rebuild or load timings)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--seed", type=int, default=20261101, help="workload seed")
    parser.add_argument("--query-model", default="", metavar="EMBEDDER",
                        help="an installed embedder (e.g. minilm) that also embeds each "
                             "query, so recall pays a real model's cost; the vectors stay "
                             "the topic embedder's")
    parser.add_argument("--query-model-options", default='{"cache_size": 0}', metavar="JSON",
                        help="its options (default: minilm's cache off, so that every "
                             "recall embeds its query, as a new question would)")
    parser.add_argument("--sweep", action="store_true",
                        help="instead: compare faiss index configurations on --size vectors "
                             "(no Athena, no database; what chose the defaults)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_step"]:
        return _step(argv[1:])
    args = _parser().parse_args(argv)
    if args.sweep:
        swept = sweep(args.size, args.seed)
        publish(swept, render_sweep(swept), args.json)
        return 0
    options = json.loads(args.faiss_options)
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="athena-scale-", dir=args.workdir))
    home = args.home or workdir / f"store-{args.size}"
    common = ["--home", str(home), "--seed", str(args.seed), "--options", json.dumps(options)]
    results: dict[str, Any] = {
        "command": "python benchmarks/scale.py" + "".join(f" {shlex.quote(a)}" for a in argv),
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "machine": machine(workdir), "size": args.size, "k": K, "faiss_options": options,
        "embedder": f"bench-topics ({DIMENSION} dims; {TOPICS} topics, defined in "
                    f"benchmarks/scale.py)",
        "query_model": args.query_model or None}
    try:
        import faiss

        results["machine"]["faiss"] = faiss.__version__
        if args.home is None:
            note(f"building a store of {args.size:,} memories in {home}")
            results["build"] = _child("build", *common, "--size", str(args.size))
        if not (args.recall_only and args.home):
            note("rebuilding the faiss index from the database (fresh process)")
            results["rebuild"] = _child("rebuild", *common)
            note("loading the saved faiss index (fresh process)")
            results["load_faiss"] = _child("load", *common, "--backend", "faiss")
            note("loading the exact backend (fresh process)")
            results["load_exact"] = _child("load", *common, "--backend", "exact")
        note(f"recall: {args.recall_samples} queries, both backends, interleaved")
        results["recall"] = _child("measure", *common, "--samples", str(args.recall_samples),
                                   "--query-model", args.query_model,
                                   "--query-model-options", args.query_model_options)
    finally:
        if args.keep or args.home:
            note(f"store kept in {home}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["total_s"] = time.perf_counter() - began
    publish(results, render(results), args.json)
    if args.json:
        note(f"results written to {args.json}")
    return 0


def _step(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=("build", "rebuild", "load", "measure"))
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--options", required=True)
    parser.add_argument("--size", type=int)
    parser.add_argument("--backend", choices=("faiss", "exact"))
    parser.add_argument("--samples", type=int)
    parser.add_argument("--query-model", default="")
    parser.add_argument("--query-model-options", default="{}")
    args = parser.parse_args(argv)
    options = json.loads(args.options)
    if args.step == "build":
        result = step_build(args.home, args.size, args.seed, options)
    elif args.step == "rebuild":
        result = step_rebuild(args.home, args.seed, options)
    elif args.step == "load":
        result = step_load(args.home, args.backend, args.seed, options)
    else:
        result = step_measure(args.home, args.seed, options, args.samples, args.query_model,
                              json.loads(args.query_model_options))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


# --- the table -------------------------------------------------------------------------------


def _line(label: str, value: str) -> str:
    return f"{label:<{run._W}}{value}"


def render(results: dict[str, Any]) -> str:
    m, size = results["machine"], results["size"]
    rec = results["recall"]
    lines = [
        f"Athena at scale: {size:,} memories, faiss vector backend vs exact",
        f"  {results['command']}",
        f"  {results['started_at']}; {m['nproc']} CPUs, {m['cpu_model']}, "
        f"{m['memory_mb']:,} MiB; Python {m['python']}, SQLite {m['sqlite']}, "
        f"numpy {m['numpy']}, faiss {m['faiss']}; store on {m['workdir_filesystem']}; "
        f"load average at start {' '.join(str(x) for x in m['load_average_at_start'] or ['?'])}",
        f"  vectors: {results['embedder']}; faiss options: "
        f"{results['faiss_options'] or 'defaults'}",
        *([f"  queries also embedded by {results['query_model']} (its cost is paid; the "
           f"vectors searched are the topic embedder's)"] if results.get("query_model")
          else []),
        "  All times in ms. Ratios: faiss / exact, measured in the same run, interleaved.",
    ]
    lines += run._header(f"recall k={results['k']} at {size:,} memories "
                         f"({rec['faiss']['n']} queries, one scope each)")
    alone = rec.get("faiss_alone", rec["faiss"])
    budget = "budget p50 15 / p95 50 ms: " + (
        "MET" if alone["p50_ms"] <= 15 and alone["p95_ms"] <= 50 else "MISSED")
    lines += [
        run._row("recall, faiss backend, queries in a row", alone, {}, budget),
        run._row("recall, faiss backend, interleaved with exact", rec["faiss"], rec["exact"]),
        run._row("  baseline: recall, exact backend", rec["exact"]),
        run._row(f"  part: dense, faiss backend.search k={rec['pool']}", rec["faiss_dense"],
                 rec["exact_dense"]),
        run._row(f"  part: dense, exact backend.search k={rec['pool']}", rec["exact_dense"]),
        run._row(f"  part: lexical, lexical_search limit={rec['pool']}", rec["lexical"]),
        run._row("  part: index sync check", rec["sync"]),
        _line("  dense top-10 of faiss found by exact search (recall@10)",
              f"{rec['dense_recall_at_10']:9.3f}"),
        _line("  fused top-10 shared by the two backends", f"{rec['fused_overlap_at_10']:9.3f}"),
        _line("  scopes searched through an HNSW graph", f"{len(rec['graph_scopes']):9d}"),
    ]
    if "build" in results or "rebuild" in results:
        lines += ["", f"store and index at {size:,} memories", "-" * (run._W + 27)]
    if "build" in results:
        build = results["build"]
        lines += [
            _line("  ingest (athena import code path, index live)",
                  f"{build['import_s']:8.1f} s ({build['memories_per_s']:,.0f} memories/s)"),
            _line("    of which embedding, alone", f"{build['embed_per_s']:8,.0f} texts/s"),
            _line("  close after ingest (saves the faiss index)", f"{build['close_s']:8.1f} s, "
                  f"{build['index_bytes'] / 2**20:.0f} MiB"),
            _line("  database size", f"{build['db_bytes'] / 2**20:8.0f} MiB"),
            _line("  RSS at the end of ingest (peak)",
                  f"{build['memory']['rss_mb']:8.0f} ({build['memory']['peak_rss_mb']:.0f}) MiB"),
        ]
    if "rebuild" not in results:
        lines.append(f"\ntotal run time {results['total_s']:.0f} s")
        return "\n".join(lines)
    rebuild, loaded, exact = results["rebuild"], results["load_faiss"], results["load_exact"]
    ratio = loaded["first_recall_s"] / exact["first_recall_s"]
    lines += [
        _line("  faiss index rebuilt from the database and saved",
              f"{rebuild['first_recall_s']:8.1f} s ({rebuild['entries']:,} entries, "
              f"{rebuild['graph_scopes']} graphs)"),
        _line("  then closing (unchanged: not written again)",
              f"{rebuild['close_s']:8.1f} s, {rebuild['index_bytes'] / 2**20:.0f} MiB on disk"),
        _line("  first recall, saved faiss index loaded", f"{loaded['first_recall_s']:8.1f} s "
                                                          f"({ratio:.2f}x exact)"),
        _line("  first recall, exact backend (loads every vector)",
              f"{exact['first_recall_s']:8.1f} s"),
        _line("  RSS after first recall: faiss rebuilt / loaded / exact",
              f"{rebuild['memory']['after_first_recall']['rss_mb']:8.0f} / "
              f"{loaded['memory']['after_first_recall']['rss_mb']:.0f} / "
              f"{exact['memory']['after_first_recall']['rss_mb']:.0f} MiB"),
        _line("  peak RSS: faiss rebuild / load / exact load",
              f"{rebuild['memory']['after_first_recall']['peak_rss_mb']:8.0f} / "
              f"{loaded['memory']['after_first_recall']['peak_rss_mb']:.0f} / "
              f"{exact['memory']['after_first_recall']['peak_rss_mb']:.0f} MiB"),
    ]
    lines.append(f"\ntotal run time {results['total_s']:.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
