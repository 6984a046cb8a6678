"""Prospective memory at run time: downtime and misfire policies, the cost of a tick,
and event and context triggers (recall, false alarms, exactly-once delivery).

    python benchmarks/prospective_runtime.py                 # all three parts
    python benchmarks/prospective_runtime.py --only downtime # or tick, events

**downtime** - a child process adds triggers (cron, RRULE, every; each misfire policy)
and ticks at T0, then is killed with SIGKILL; a new process ticks at T0 + 1 hour,
1 day or 7 days. Every trigger's run records must be exactly what its policy says for
the instants in (T0, T0 + downtime], computed here from the schedule in the parent:
``catch_up_all`` one ``caught_up`` record per instant older than the grace period,
``coalesce_once`` one ``coalesced`` record standing for all of them, ``skip`` one
``skipped`` record standing for all of them, plus a ``fired`` record per instant
within the grace period.

**tick** - a tick over 10,000 active time triggers, with nothing due and with 100 due,
against the same tick over an empty store (the baseline).

**events** - five families (keyword, entity, episode kind and outcome, operation,
context: path, tags and session), each case with a positive, a near-miss negative and
an overloaded variant (the cue among ten other events written at the same time):
recall, false alarms; then four processes writing matching events at once, checking
that each ``once`` trigger fired exactly once and each ``every-event`` trigger once
per event.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from athena_core import Athena
from athena_core.config import Config
from athena_core.prospective.schedule import Schedule

CONFIG = '[retrieval]\nembedder = "hashing"\n'
POLICIES = ("catch_up_all", "coalesce_once", "skip")
DOWNTIMES = {"1 hour": timedelta(hours=1), "1 day": timedelta(days=1),
             "7 days": timedelta(days=7)}
GRACE = timedelta(minutes=5)


def _open(home: Path) -> Athena:
    return Athena.open(config=Config.load(home))


def _home(root: Path, name: str) -> Path:
    home = root / name
    home.mkdir(parents=True)
    (home / "athena.toml").write_text(CONFIG, encoding="utf-8")
    return home


# --- downtime ---------------------------------------------------------------------------------

def _trigger_specs(rng: random.Random, count: int) -> list[dict[str, Any]]:
    zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
             "Pacific/Chatham", "UTC"]
    specs = []
    for n in range(count):
        zone = zones[n % len(zones)]
        roll = n % 3
        if roll == 0:
            spec = {"cron": rng.choice(["*/15 * * * *", "0 * * * *", "30 2 * * *",
                                        "0 9 * * MON-FRI", "*/5 1-3 * * *"])}
        elif roll == 1:
            spec = {"rrule": rng.choice(["FREQ=HOURLY;INTERVAL=2", "FREQ=DAILY;BYHOUR=2,14",
                                         "FREQ=MINUTELY;INTERVAL=20"]),
                    "start": "2026-10-20T00:00"}
        else:
            spec = {"every": rng.choice(["7 minutes", "1 hours", "45 minutes"]),
                    "start": "2026-10-20T00:00"}
        specs.append({**spec, "zone": zone, "misfire": POLICIES[n % 3],
                      "grace": f"{int(GRACE.total_seconds() // 60)} minutes"})
    return specs


def _first_life(home: str, specs: list[dict[str, Any]], t0: str) -> None:
    """The first process: add the triggers, tick at T0, then die without closing."""
    athena = _open(Path(home))
    for n, spec in enumerate(specs):
        athena.prospective.add(f"trigger {n}", **spec)
    athena.prospective.tick(now=datetime.fromisoformat(t0))
    os.kill(os.getpid(), signal.SIGKILL)


def expected_runs(spec: dict[str, Any], t0: datetime, t1: datetime) -> list[tuple[str, int]]:
    """``(outcome, instants)`` records the policy asks for, from the schedule alone."""
    schedule = Schedule.from_spec(spec)
    instants = schedule.fires_between(t0, t1, limit=10**6)
    cutoff = t1 - GRACE
    late = [i for i in instants if i < cutoff]
    timely = [i for i in instants if i >= cutoff]
    records: list[tuple[str, int]] = []
    if late and spec["misfire_policy"] == "catch_up_all":
        records += [("caught_up", 1)] * len(late)
    elif late:
        records.append(("coalesced" if spec["misfire_policy"] == "coalesce_once"
                        else "skipped", len(late)))
    return records + [("fired", 1)] * len(timely)


def downtime(root: Path, count: int) -> dict[str, Any]:
    rng = random.Random(16)
    specs = _trigger_specs(rng, count)
    # After the real clock (each process also ticks at start-up with it), and a week that
    # holds the clock changes of Europe, Lord Howe and Chatham.
    t0 = datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    results = {}
    for name, gap in DOWNTIMES.items():
        home = _home(root, f"downtime-{name.replace(' ', '')}")
        child = multiprocessing.get_context("spawn").Process(
            target=_first_life, args=(str(home), specs, t0.isoformat()))
        child.start()
        child.join()
        killed = child.exitcode == -signal.SIGKILL
        t1 = t0 + gap
        with _open(home) as athena:
            started = time.perf_counter()
            athena.prospective.tick(now=t1)
            seconds = time.perf_counter() - started
            items = {item["title"]: item for item in athena.prospective.list(limit=10_000)}
            by_task = {item["id"]: athena.prospective.runs(item["id"], limit=10_000)
                       for item in items.values()}
        runs = [run for found in by_task.values() for run in found]
        obeyed = 0
        for n, spec in enumerate(specs):
            item = items[f"trigger {n}"]
            trigger = item["triggers"][0]
            got = sorted((run["outcome"], run["instants"], run["scheduled_for"])
                         for run in by_task.get(item["id"], [])
                         if datetime.fromisoformat(run["fired_at"]) == t1)
            want = expected_runs({**trigger["schedule"], "misfire_policy": spec["misfire"]},
                                 t0, t1)
            obeyed += sorted((o, k) for o, k, _ in got) == sorted(want)
        results[name] = {"killed": killed, "triggers": len(specs), "obeyed": obeyed,
                         "runs": len(runs), "catch_up_tick_ms": round(seconds * 1000, 1)}
    return results


# --- tick -------------------------------------------------------------------------------------

def _bulk_triggers(athena: Athena, count: int, now: datetime, due: int) -> None:
    """``count`` active cron triggers (``due`` of them due at ``now``), written directly
    in one transaction (adding 10,000 one by one is not what is measured)."""
    from sqlalchemy import insert

    from athena_core import _ids
    from athena_core.storage.models import TaskRow, TriggerRow
    from athena_core.storage.queries import insert_row

    with athena.store.transaction() as tx:  # type: ignore[union-attr]
        for n in range(count):
            pk = insert_row(tx.session, TaskRow, {
                "id": _ids.new_id(), "scope": "default", "kind": "reminder",
                "title": f"r{n}", "notes": None, "status": "pending", "priority": 1,
                "parent_pk": None, "due_at": None, "grace_seconds": 300, "overdue_at": None,
                "metadata": {}, "outcome": None, "created_at": now, "updated_at": now,
                "finished_at": None})
            fire = now - timedelta(seconds=30) if n < due else \
                now + timedelta(minutes=1 + n % 10_000)
            tx.session.execute(insert(TriggerRow).values(
                id=_ids.new_id(), scope="default", item_pk=pk, kind="cron",
                spec={"kind": "cron", "zone": "UTC", "cron": "* * * * *"},
                misfire="coalesce_once", grace_seconds=300, next_fire=fire, waiting=False,
                status="active", once=True, fires=0, created_at=now))


def tick(root: Path, count: int, samples: int) -> dict[str, Any]:
    # After the real clock: each Athena.open also ticks, with the real time.
    now = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)

    fired: list[int] = []

    def measure(home: Path, due: int) -> float:
        fired.clear()
        times = []
        with _open(home) as athena:
            for _ in range(samples):
                started = time.perf_counter()
                report = athena.prospective.tick(now=now)
                times.append(time.perf_counter() - started)
                fired.append(report.triggers)
                if due:  # the same triggers due again for the next sample, no runs
                    from sqlalchemy import delete, select, update

                    from athena_core.storage.models import TriggerRow, TriggerRunRow

                    with athena.store.transaction() as tx:  # type: ignore[union-attr]
                        first = list(tx.session.scalars(select(TriggerRow.pk).order_by(
                            TriggerRow.pk).limit(due)))
                        tx.session.execute(update(TriggerRow).where(
                            TriggerRow.pk.in_(first)).values(
                            next_fire=now - timedelta(seconds=30), status="active"))
                        tx.session.execute(delete(TriggerRunRow))
        return statistics.median(times) * 1000

    empty = _home(root, "tick-empty")
    with _open(empty):
        pass
    full = _home(root, "tick-full")
    with _open(full) as athena:
        _bulk_triggers(athena, count, now, due=0)
    busy = _home(root, "tick-busy")
    with _open(busy) as athena:
        _bulk_triggers(athena, count, now, due=100)
    result: dict[str, Any] = {"triggers": count, "samples": samples,
                              "empty_store_ms": round(measure(empty, 0), 3),
                              "nothing_due_ms": round(measure(full, 0), 3)}
    result["hundred_due_ms"] = round(measure(busy, 100), 3)
    result["triggers_fired_per_sample"] = sorted(set(fired))
    return result


# --- events -----------------------------------------------------------------------------------

FAMILIES = ("keyword", "entity", "episode", "operation", "context")
FILLER = ("the", "weekly", "sync", "covered", "hiring", "plans", "and", "the", "budget",
          "review", "for", "next", "quarter", "while", "lunch", "orders", "went", "out")


def _case(rng: random.Random, family: str, n: int) -> dict[str, Any]:
    """A condition, and a matching and a near-miss event (as write calls)."""
    token = f"zq{n}x{rng.randint(100, 999)}"
    if family == "keyword":
        return {"when": {"keyword": token},
                "hit": ("remember", f"we talked about {token} today", {}),
                "miss": ("remember", f"we talked about {token}s and pre{token} today", {})}
    if family == "entity":
        name = f"Ada {token.capitalize()}"
        return {"when": {"entity": name},
                "hit": ("remember", f"met {name.lower()} at the fair", {}),
                "miss": ("remember", f"met {token} Ada at the fair", {})}
    if family == "episode":
        return {"when": {"kind": "error", "outcome": f"o{token}"},
                "hit": ("record", f"build {token}", {"kind": "error", "outcome": f"o{token}"}),
                "miss": ("record", f"build {token}", {"kind": "success",
                                                      "outcome": f"o{token}"})}
    if family == "operation":
        return {"when": {"operation": "episodic.timeline"},
                "hit": ("call", "episodic.timeline", {"limit": 1}),
                "miss": ("call", "episodic.search", {"query": token})}
    return {"when": {"path": f"/srv/{token}", "tags": ["db"]},
            "hit": ("remember", "schema notes", {"metadata": {
                "path": f"/srv/{token}/models/user.py", "tags": ["db", "ui"]}}),
            "miss": ("remember", "schema notes", {"metadata": {
                "path": f"/srv/{token}x/models", "tags": ["db"]}})}


def _emit(athena: Athena, action: tuple[Any, ...], event: str) -> None:
    kind, text, extra = action
    if kind == "remember":
        athena.remember(f"{text} {event}", **extra)
    elif kind == "record":
        athena.episodic.record(f"{text} {event}", **extra)
    else:
        athena.api.get(text).call(**extra)


def events(root: Path, cases: int) -> dict[str, Any]:
    rng = random.Random(5)
    home = _home(root, "events")
    counts = {family: {"positive": 0, "fired": 0, "negative": 0, "false": 0,
                       "overloaded": 0, "overloaded_fired": 0} for family in FAMILIES}
    with _open(home) as athena:
        for n in range(cases):
            family = FAMILIES[n % len(FAMILIES)]
            case = _case(rng, family, n)
            task = athena.prospective.add(f"{family} {n}", when=case["when"], once=False)["id"]
            _emit(athena, case["miss"], f"e{n}miss")
            false = len(athena.prospective.runs(task))
            _emit(athena, case["hit"], f"e{n}hit")
            fired = len(athena.prospective.runs(task)) - false
            for k in range(10):  # the cue among ten other events on each side
                athena.remember(" ".join(rng.sample(FILLER, 8)) + f" f{n}n{k}")
            _emit(athena, case["hit"], f"e{n}over")
            for k in range(10, 20):
                athena.remember(" ".join(rng.sample(FILLER, 8)) + f" f{n}n{k}")
            overloaded = len(athena.prospective.runs(task)) - false - fired
            athena.prospective.cancel(task)
            row = counts[family]
            row["positive"] += 1
            row["fired"] += fired == 1
            row["negative"] += 1
            row["false"] += false > 0
            row["overloaded"] += 1
            row["overloaded_fired"] += overloaded == 1
    positives = sum(row["positive"] + row["overloaded"] for row in counts.values())
    hits = sum(row["fired"] + row["overloaded_fired"] for row in counts.values())
    negatives = sum(row["negative"] for row in counts.values())
    false = sum(row["false"] for row in counts.values())
    return {"cases": cases, "families": counts, "recall": hits / positives,
            "false_alarm_rate": false / negatives,
            "concurrent": concurrent(root)}


def _writer(home: str, n: int, barrier: Any) -> None:
    with _open(Path(home)) as athena:
        barrier.wait()
        for k in range(25):
            athena.episodic.record(f"outage {n}-{k} in the eu region", kind="error")


def concurrent(root: Path, writers: int = 4) -> dict[str, Any]:
    home = _home(root, "concurrent")
    with _open(home) as athena:
        once = [athena.prospective.add(f"first outage {n}", when={"keyword": "outage"})["id"]
                for n in range(20)]
        each = athena.prospective.add("every error", when={"kind": "error"}, once=False)["id"]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers)
    processes = [context.Process(target=_writer, args=(str(home), n, barrier))
                 for n in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    with _open(home) as athena:
        once_fires = [len(athena.prospective.runs(task)) for task in once]
        each_fires = athena.prospective.runs(each, limit=10_000)
    events = writers * 25
    return {"writers": writers, "events": events,
            "once_triggers_fired_exactly_once": sum(count == 1 for count in once_fires),
            "once_triggers": len(once),
            "every_event_trigger_fires": len(each_fires),
            "distinct_events_fired": len({run["detail"]["event"] for run in each_fires})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["downtime", "tick", "events"])
    parser.add_argument("--downtime-triggers", type=int, default=90)
    parser.add_argument("--tick-triggers", type=int, default=10_000)
    parser.add_argument("--tick-samples", type=int, default=30)
    parser.add_argument("--cases", type=int, default=1_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir)
        if args.only in (None, "downtime"):
            result["downtime"] = downtime(root, args.downtime_triggers)
            print("downtime done", file=sys.stderr)
        if args.only in (None, "tick"):
            result["tick"] = tick(root, args.tick_triggers, args.tick_samples)
            print("tick done", file=sys.stderr)
        if args.only in (None, "events"):
            result["events"] = events(root, args.cases)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
