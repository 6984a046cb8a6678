"""How well ``search_api`` finds the operations a question needs, on three question sets.

* **tuning, questions**: the 40 questions of ``tests/test_discovery_quality.py`` (one
  operation each; the ranking was tuned on them);
* **tuning, token tasks**: the ``search`` query of each task of ``benchmarks/tokens.py``
  with every operation its program calls (all must be found; tuned on);
* **held-out** (only with ``--held-out``): ``benchmarks/search_heldout.py``, questions
  never tuned on (any one of a question's operations answers it).

Each set is searched as an MCP session's ``search_api`` searches (the operations a
program may call under the default policy, ``scope`` bound, the default limit), once
with the hashing embedder (as the tests search) and once with the instance's embedder
(the configured one: what ``search_api`` uses). Printed per set: **top-1** (the first
operation answers), **found** (an answer is listed; for a token task, every operation
its program calls), and the **operations listed** per question. The baseline, measured
in the same run on the same operations, is plain BM25 over each operation's name and
whole docstring (no field weights, related words or floor), cut at the same limit.

    python benchmarks/search_quality.py               # the tuning sets
    python benchmarks/search_quality.py --held-out    # and the held-out set
    python benchmarks/search_quality.py --json FILE   # the table, plus JSON in FILE
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from athena_core import Athena, Config
from athena_core.discovery import ApiIndex
from athena_core.discovery.search import DEFAULT_LIMIT
from athena_core.execution.bridge import callable_operations

#: (question, the operations that answer it, whether all of them must be listed)
Question = tuple[str, tuple[str, ...], bool]
Searcher = Callable[[str], list[str]]


def question_sets(held_out: bool) -> dict[str, list[Question]]:
    """The sets to score, by name."""
    from tokens import TASKS, _operations

    from tests.test_discovery_quality import FOUND, KNOWN_MISSES

    sets = {
        "tuning, questions": [(q, (op,), False) for q, op in [*FOUND, *KNOWN_MISSES]],
        "tuning, token tasks": [(t.search, tuple(_operations(t.program)), True)
                                for t in TASKS],
    }
    if held_out:
        from search_heldout import HELD_OUT

        sets["held-out"] = [(q, ops, False) for q, ops in HELD_OUT]
    return sets


def score(searcher: Searcher, questions: Sequence[Question]) -> dict[str, Any]:
    """Top-1 and found rates (percent) and the mean number of operations listed."""
    top1 = found = listed = 0
    misses = []
    for question, answers, every in questions:
        names = searcher(question)
        listed += len(names)
        top1 += bool(names) and names[0] in answers
        hit = (all if every else any)(op in names for op in answers)
        found += hit
        if not hit:
            misses.append(question)
    n = len(questions)
    return {"questions": n, "top1": 100.0 * top1 / n, "found": 100.0 * found / n,
            "listed": listed / n, "misses": misses}


_WORD = re.compile(r"[a-z0-9]+")


def plain_bm25(operations: Sequence[Any], limit: int) -> Searcher:
    """The baseline: BM25 (k1 1.2, b 0.75) over name and docstring, no floor."""
    docs = [_WORD.findall(f"{op.name.replace('_', ' ')} {op.doc}".lower())
            for op in operations]
    average = sum(map(len, docs)) / len(docs)
    frequency: dict[str, int] = {}
    for doc in docs:
        for word in set(doc):
            frequency[word] = frequency.get(word, 0) + 1

    def search(query: str) -> list[str]:
        scores = []
        for op, doc in zip(operations, docs, strict=True):
            total = 0.0
            for word in set(_WORD.findall(query.lower())):
                tf = doc.count(word)
                if tf:
                    df = frequency[word]
                    idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                    total += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(doc) / average))
            if total > 0:
                scores.append((-total, op.name))
        return [name for _, name in sorted(scores)[:limit]]

    return search


def measure(held_out: bool) -> dict[str, Any]:
    """Every set scored by the baseline and by ``search_api`` with both embedders."""
    with tempfile.TemporaryDirectory() as home, \
            Athena.open(config=Config.from_mapping({}, data_dir=Path(home), env={})) as athena:
        operations = callable_operations(athena.api, athena.execution.policy(None))
        embedder = athena.index.embedder
        hashing = ApiIndex(operations, bound={"scope"})
        instance = ApiIndex(operations, embed=embedder.embed, bound={"scope"})
        model = embedder.identity.split("@")[0]
        searchers: dict[str, Searcher] = {
            "plain BM25 (baseline)": plain_bm25(operations, DEFAULT_LIMIT),
            "search_api, hashing embedder": partial(hashing.search, detail="names"),
            f"search_api, {model} embedder": partial(instance.search, detail="names"),
        }
        results = {name: {label: score(searcher, questions)
                          for label, searcher in searchers.items()}
                   for name, questions in question_sets(held_out).items()}
    return {"operations": len(operations), "limit": DEFAULT_LIMIT, "sets": results}


def render(result: dict[str, Any]) -> str:
    """The table."""
    lines = [f"search_api quality: {result['operations']} operations, limit "
             f"{result['limit']}", ""]
    width = max(len(label) for scores in result["sets"].values() for label in scores) + 2
    for name, scores in result["sets"].items():
        n = next(iter(scores.values()))["questions"]
        lines.append(f"{f'{name} ({n} questions)':<{width + 2}}{'top-1':>8}{'found':>8}"
                     f"{'listed':>8}")
        for label, s in scores.items():
            lines.append(f"  {label:<{width}}{s['top1']:>7.1f}%{s['found']:>7.1f}%"
                         f"{s['listed']:>8.2f}")
        for label, s in scores.items():
            if label.startswith("search_api") and s["misses"]:
                lines.append(f"  not found ({label}): " + "; ".join(s["misses"]))
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--held-out", action="store_true", help="also score the held-out set")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    result = measure(args.held_out)
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
