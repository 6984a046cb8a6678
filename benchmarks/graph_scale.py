"""``graph.as_of`` latency at a million relations, with a baseline of ten thousand.

The graph is generated straight into the tables (a million writes through the API would
take an hour here), in the shape the API leaves it: per person, a functional
``lives_in`` history of moves in which each move retracted the open fact before it and
re-stored its earlier part (so a third of the rows are retracted records), and
accumulating ``knows`` relations to other people. Queries go through the registered
operation (``athena.graph.as_of``), at random valid and record times; a sample of the
answers is checked against the rows with :func:`athena_core.graph.visible`.

    python benchmarks/graph_scale.py                 # 10k baseline, then 1M relations
    python benchmarks/graph_scale.py --relations 100000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EPOCH = datetime(2010, 1, 1, tzinfo=UTC)
RECORDED = datetime(2025, 1, 1, tzinfo=UTC)
MOVES = 4  # lives_in facts per person: each move retracts one and re-stores its part (3)
KNOWS = 4


def generate(athena: Any, relations: int, rng: random.Random) -> dict[str, Any]:
    """Insert about ``relations`` facts; return what the checks need."""
    from sqlalchemy import insert

    from athena_core.storage.models import GraphEntityRow, GraphFactRow, GraphTypeRow

    per_person = MOVES + (MOVES - 1) + KNOWS  # open facts, re-stored parts, knows
    people = max(relations // per_person, 10)
    storage = athena.storage
    now = RECORDED
    with storage.write() as session:
        session.execute(insert(GraphTypeRow), [
            {"scope": "default", "name": "lives_in", "functional": True, "created_at": now},
            {"scope": "default", "name": "knows", "functional": False, "created_at": now}])
        cities = 200
        session.execute(insert(GraphEntityRow), [
            {"scope": "default", "key": f"city {i}", "name": f"City {i}", "type": "city",
             "extracted": False, "created_at": now} for i in range(cities)])
        rows: list[dict[str, Any]] = []
        facts: dict[int, list[dict[str, Any]]] = {}
        batch = 2_000
        for first in range(0, people, batch):
            count = min(batch, people - first)
            session.execute(insert(GraphEntityRow), [
                {"scope": "default", "key": f"person {first + i}",
                 "name": f"Person {first + i}", "type": "person", "extracted": False,
                 "created_at": now} for i in range(count)])
        for person in range(people):
            pk = cities + person + 1
            mine: list[dict[str, Any]] = []
            starts = sorted(rng.sample(range(0, 5000), MOVES))
            recorded = [RECORDED + timedelta(minutes=person % 1000 + 10 * j)
                        for j in range(MOVES)]
            previous: dict[str, Any] | None = None
            for j, start in enumerate(starts):
                fact = _fact(pk, "lives_in", rng.randrange(1, cities + 1), day(start), None,
                             recorded[j])
                if previous is not None:  # the move: retract the open one, keep its start
                    previous["retracted_at"] = recorded[j]
                    previous["retracted_by"] = fact["id"]
                    part = _fact(pk, "lives_in", previous["object_pk"],
                                 previous["valid_from"], day(start), recorded[j])
                    part["derived_from"] = previous["id"]
                    mine.append(part)
                mine.append(fact)
                previous = fact
            for _ in range(KNOWS):
                start = rng.randrange(0, 5000)
                mine.append(_fact(pk, "knows", cities + rng.randrange(people) + 1, day(start),
                                  day(start + rng.randrange(30, 900)), recorded[0]))
            facts[person] = mine
            rows += mine
            if len(rows) >= 20_000:
                session.execute(insert(GraphFactRow), rows)
                rows = []
        if rows:
            session.execute(insert(GraphFactRow), rows)
    total = sum(len(mine) for mine in facts.values())
    return {"people": people, "relations": total, "facts": facts}


def day(n: int) -> datetime:
    return EPOCH + timedelta(days=n)


def _fact(subject: int, predicate: str, obj: int, start: datetime, end: datetime | None,
          recorded: datetime) -> dict[str, Any]:
    from athena_core import _ids

    return {"id": _ids.new_id(), "scope": "default", "subject_pk": subject,
            "predicate": predicate, "object_pk": obj, "value": None, "attributes": {},
            "valid_from": start, "valid_to": end, "recorded_at": recorded,
            "retracted_at": None, "retracted_by": None, "derived_from": None, "reason": None}


def measure(athena: Any, data: dict[str, Any], queries: int, rng: random.Random
            ) -> dict[str, Any]:
    from athena_core.graph.model import Fact, visible

    graph = athena.graph
    people = data["people"]
    times: list[float] = []
    wrong = 0
    for n in range(queries):
        person = rng.randrange(people)
        valid = day(rng.randrange(0, 6000))
        record = RECORDED + timedelta(minutes=rng.randrange(0, 1100))
        started = time.perf_counter()
        answer = graph.as_of(f"Person {person}", valid_time=valid, record_time=record)
        times.append((time.perf_counter() - started) * 1000)
        if n % 10 == 0:  # check a sample against the rows themselves
            expected = sorted(f["id"] for f in data["facts"][person] if visible(
                Fact(id=f["id"], subject="", predicate="", object=None, value=None,
                     attributes={}, valid_from=f["valid_from"], valid_to=f["valid_to"],
                     recorded_at=f["recorded_at"], retracted_at=f["retracted_at"]),
                valid, record))
            wrong += sorted(f["id"] for f in answer) != expected
    times.sort()
    return {"relations": data["relations"], "queries": queries,
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * len(times)) - 1], 2),
            "p99_ms": round(times[int(0.99 * len(times)) - 1], 2),
            "sampled_wrong": wrong}


def run(relations: int, queries: int, seed: int) -> dict[str, Any]:
    from athena_core import Athena

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, Athena.open(Path(tmp) / "data") as athena:
        started = time.perf_counter()
        data = generate(athena, relations, rng)
        load = time.perf_counter() - started
        athena.checkpoint()
        figures = measure(athena, data, queries, rng)
        figures["load_seconds"] = round(load, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relations", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    base = run(args.baseline, args.queries, args.seed)
    big = run(args.relations, args.queries, args.seed)
    print(f"{'':14}{'relations':>12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'wrong':>7}")
    for name, figures in (("baseline", base), ("graph", big)):
        print(f"{name:14}{figures['relations']:>12,}{figures['p50_ms']:>9}"
              f"{figures['p95_ms']:>9}{figures['p99_ms']:>9}{figures['sampled_wrong']:>7}")
    print(f"p95 ratio (graph / baseline): {big['p95_ms'] / base['p95_ms']:.2f}x; "
          f"load {big['load_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
