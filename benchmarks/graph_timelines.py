"""Synthetic entity timelines for the knowledge graph, checked against a reference model.

Each timeline is one person: where they live (``lives_in``, functional), their commute
(``commute_time``, functional, made stale by a ``lives_in`` change through a cascade
rule) and the places they visited (``visited``, accumulating). Its operations, in a
random order per person: a first home, moves, a late-arriving earlier home (bounded or
"from then on"), retroactive corrections, retractions, a reassertion after a gap, two
disjoint visits of one place, and commutes before and after moves.

:class:`Reference` is an in-memory model written from the rules in docs/layers.md alone
(it shares no code with ``athena_core.graph``): per person and slot, the believed pieces
of valid time, copied after every write at its record time. The suite then asks Athena
``as_of(person, valid_time, record_time)`` at random instants and at every write's record
time and compares, and counts: invalidated facts in ``current`` answers, retractions of
another person's or slot's facts, and cascade marks (expected vs found).

    python benchmarks/graph_timelines.py --entities 1000
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
CITIES = [f"City {i}" for i in range(40)]
FUNCTIONAL = {"lives_in": True, "commute_time": True, "visited": False}


def day(n: int) -> datetime:
    return EPOCH + timedelta(days=n)


class Piece:
    """A believed fact of the reference model."""

    def __init__(self, fact_id: str | None, start: datetime, end: datetime | None,
                 value: Any) -> None:
        self.id, self.start, self.end, self.value, self.stale = fact_id, start, end, value, False

    def holds(self, when: datetime) -> bool:
        return self.start <= when and (self.end is None or when < self.end)


class Reference:
    """Believed pieces per (person, predicate), and their copies at each record time."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, str], list[Piece]] = {}
        self.snapshots: dict[str, list[tuple[datetime, dict[str, list[Piece]]]]] = {}

    def pieces(self, person: str, predicate: str) -> list[Piece]:
        return self.state.setdefault((person, predicate), [])

    def add(self, person: str, predicate: str, value: Any, start: datetime,
            end: datetime | None, fact_id: str) -> None:
        pieces = self.pieces(person, predicate)
        same_slot = [p for p in pieces if FUNCTIONAL[predicate] or p.value == value]
        if end is None:
            later = [p.start for p in same_slot if p.start > start]
            end = min(later) if later else None
        for piece in same_slot:
            overlap = (piece.end is None or piece.end > start) and (end is None
                                                                    or end > piece.start)
            if not overlap:
                continue
            pieces.remove(piece)
            if piece.start < start:
                pieces.append(Piece(None, piece.start, start, piece.value))
            if end is not None and (piece.end is None or piece.end > end):
                pieces.append(Piece(None, end, piece.end, piece.value))
        pieces.append(Piece(fact_id, start, end, value))
        self.cascade(person, predicate, start)

    def remove(self, person: str, predicate: str, fact_id: str) -> Piece:
        pieces = self.pieces(person, predicate)
        piece = next(p for p in pieces if p.id == fact_id)
        pieces.remove(piece)
        self.cascade(person, predicate, piece.start)
        return piece

    def cascade(self, person: str, predicate: str, since: datetime) -> None:
        if predicate == "lives_in":
            for piece in self.pieces(person, "commute_time"):
                if piece.end is None or piece.end > since:
                    piece.stale = True

    def snapshot(self, person: str, record_time: datetime) -> None:
        mine = {pred: copy.deepcopy(pieces) for (who, pred), pieces in self.state.items()
                if who == person}
        self.snapshots.setdefault(person, []).append((record_time, mine))

    def as_of(self, person: str, valid_time: datetime, record_time: datetime
              ) -> set[tuple[str, Any]]:
        believed: dict[str, list[Piece]] = {}
        for recorded, state in self.snapshots.get(person, []):
            if recorded <= record_time:
                believed = state
        return {(pred, piece.value) for pred, pieces in believed.items()
                for piece in pieces if piece.holds(valid_time)}


def _recorded(fact: dict[str, Any], key: str = "recorded_at") -> datetime:
    return datetime.fromisoformat(fact[key])


def play_timeline(graph: Any, ref: Reference, person: str, rng: random.Random) -> int:
    """Write one person's timeline through ``graph`` and the reference; return writes."""
    graph.entity(person, "person")
    writes = 0

    def write(predicate: str, value: Any, start: int, end: int | None) -> dict[str, Any]:
        nonlocal writes
        if predicate == "commute_time":
            fact = graph.observe(person, predicate, value, valid_from=day(start),
                                 valid_to=None if end is None else day(end))
        else:
            fact = graph.relate(person, predicate, value, valid_from=day(start),
                                valid_to=None if end is None else day(end))
        ref.add(person, predicate, value, day(start), None if end is None else day(end),
                fact["id"])
        ref.snapshot(person, _recorded(fact))
        writes += 1
        return fact

    first = rng.randrange(1000, 3000)
    write("lives_in", rng.choice(CITIES), first, None)
    write("commute_time", rng.randrange(5, 90), first + 10, None)
    moments = sorted(rng.sample(range(first + 30, first + 6000), 4))
    steps = ["move", "move", "late", "late_open", "correct", "retract", "gap", "visits",
             "commute"]
    rng.shuffle(steps)
    for step in steps:
        if step == "move":
            write("lives_in", rng.choice(CITIES), moments.pop(0) if moments else
                  first + rng.randrange(6000, 8000), None)
        elif step == "late":
            start = first - rng.randrange(200, 900)
            write("lives_in", rng.choice(CITIES), start, start + rng.randrange(30, 150))
        elif step == "late_open":
            write("lives_in", rng.choice(CITIES), first - rng.randrange(1000, 1500), None)
        elif step == "gap":
            city = rng.choice(CITIES)
            start = first + rng.randrange(8000, 9000)
            write("lives_in", city, start, start + 100)
            write("lives_in", city, start + 300, start + 400)  # the same fact after a gap
        elif step == "visits":
            city = rng.choice(CITIES)
            write("visited", city, first + 50, first + 52)
            write("visited", city, first + 400, first + 403)  # disjoint: never merged
        elif step == "commute":
            write("commute_time", rng.randrange(5, 90), first + rng.randrange(100, 9000), None)
        elif step in ("correct", "retract"):
            intact = [(pred, p) for (who, pred), pieces in ref.state.items() if who == person
                      for p in pieces if p.id is not None]
            if not intact:
                continue
            pred, piece = rng.choice(intact)
            if step == "retract":
                fact = graph.retract(piece.id, reason="wrong")
                ref.remove(person, pred, piece.id)
                ref.snapshot(person, _recorded(fact, "retracted_at"))
            else:
                new_value = (rng.randrange(5, 90) if pred == "commute_time"
                             else rng.choice(CITIES))
                shift = rng.randrange(-60, 60)
                start = piece.start + timedelta(days=shift)
                end = piece.end
                if end is not None and end <= start:
                    end = start + timedelta(days=1)
                kwargs: dict[str, Any] = {"value" if pred == "commute_time" else "object":
                                          new_value}
                fact = graph.correct(piece.id, valid_from=start, valid_to=end, **kwargs)
                ref.remove(person, pred, piece.id)
                ref.add(person, pred, new_value, start, end, fact["id"])
                ref.snapshot(person, _recorded(fact))
            writes += 1
    return writes


def run_suite(athena: Any, *, entities: int, seed: int = 7, queries: int = 20
              ) -> dict[str, Any]:
    """Play ``entities`` timelines and check Athena against the reference model."""
    graph = athena.graph
    rng = random.Random(seed)
    for name, functional in FUNCTIONAL.items():
        graph.declare(name, functional=functional)
    graph.cascade("lives_in", "commute_time")
    for city in CITIES:
        graph.entity(city, "city")
    ref = Reference()
    people = [f"Person {i:05d}" for i in range(entities)]
    with athena.storage.deferred_flush():  # a bulk load: commits wait for no disk flush
        writes = sum(play_timeline(graph, ref, person, rng) for person in people)
    checked = wrong = 0
    for person in people:
        record_times = [recorded for recorded, _ in ref.snapshots[person]]
        asks = [(day(rng.randrange(0, 12000)), rng.choice(record_times)) for _ in range(queries)]
        asks += [(piece.start, recorded) for recorded, state in ref.snapshots[person][-2:]
                 for pieces in state.values() for piece in pieces]
        asks.append((day(rng.randrange(0, 12000)), record_times[0] - timedelta(microseconds=1)))
        for valid_time, record_time in asks:
            got = {(f["predicate"], f["object"] if f["object"] is not None else f["value"])
                   for f in graph.as_of(person, valid_time=valid_time, record_time=record_time)}
            checked += 1
            wrong += got != ref.as_of(person, valid_time, record_time)
    invalid_current = 0
    now = datetime.now(UTC)
    for person in people:
        for fact in graph.current(person):
            invalid_current += fact["retracted_at"] is not None or not (
                _recorded(fact, "valid_from") <= now
                and (fact["valid_to"] is None or _recorded(fact, "valid_to") > now))
    cross = _cross_invalidations(athena)
    expected = found = false_marks = 0
    for (person, predicate), pieces in ref.state.items():
        if predicate != "commute_time":
            continue
        for piece in pieces:
            facts = [f for f in graph.as_of(person, valid_time=piece.start,
                                            predicate="commute_time")]
            stale = any(f["stale"] for f in facts)
            expected += piece.stale
            found += piece.stale and stale
            false_marks += stale and not piece.stale
    return {"entities": entities, "writes": writes, "as_of_checked": checked,
            "as_of_wrong": wrong, "invalidated_in_current": invalid_current,
            "cross_invalidations": cross, "cascades_expected": expected,
            "cascades_found": found, "cascade_false_marks": false_marks}


def _cross_invalidations(athena: Any) -> int:
    """Facts retracted by a fact of another subject or another slot."""
    from sqlalchemy import select
    from sqlalchemy.orm import aliased

    from athena_core.storage.models import GraphFactRow

    by = aliased(GraphFactRow)
    with athena.storage.snapshot() as db:
        rows = db.execute(select(GraphFactRow.subject_pk, GraphFactRow.predicate,
                                 GraphFactRow.object_pk, GraphFactRow.value, by.subject_pk,
                                 by.predicate, by.object_pk, by.value)
                          .join(by, by.id == GraphFactRow.retracted_by)).all()
    bad = 0
    for s1, p1, o1, v1, s2, p2, o2, v2 in rows:
        same_slot = s1 == s2 and p1 == p2 and (FUNCTIONAL.get(p1, False)
                                               or (o1 == o2 and v1 == v2))
        bad += not same_slot
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    from athena_core import Athena

    with tempfile.TemporaryDirectory() as tmp, Athena.open(Path(tmp) / "data") as athena:
        started = time.perf_counter()
        figures = run_suite(athena, entities=args.entities, seed=args.seed)
        figures["seconds"] = round(time.perf_counter() - started, 1)
    for key, value in figures.items():
        print(f"{key:26} {value}")
    rate = figures["cascades_found"] / max(figures["cascades_expected"], 1)
    print(f"{'as_of right':26} {1 - figures['as_of_wrong'] / figures['as_of_checked']:.2%}")
    print(f"{'cascades marked':26} {rate:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
