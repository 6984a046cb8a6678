"""Learned procedures on the BFCL multi-turn base tasks: how many calls they save an agent,
and whether replaying with them leaves the APIs exactly as the ground truth does.

The 200 multi-turn base tasks of ``bfcl-eval`` (Apache-2.0) come with the ground-truth
calls of every turn and the Python source of the eight stateful APIs they use. Those APIs
are registered as Athena operations by a benchmark plugin (``bfcl_plugin.py``), their
state held on the host, one set per scope, loaded from each task's initial config.

1. **Record** (even-numbered tasks, the training half): each turn's ground-truth calls
   run as one Athena program (``Athena.execute``, sandboxed), so the audit log holds one
   successful execution per turn.
2. **Learn**: ``athena_core.procedures.learning.learn`` mines those executions and admits
   what passes the gate; timed (mining + verification).
3. **Replay** (odd-numbered tasks, held out): each turn's calls are issued with the fewest
   calls, a learned procedure standing for a contiguous run of calls whenever it makes
   exactly those calls (its inputs bound from their arguments), each turn one program.
   The final API state (and every call's arguments and result) is compared with a plain
   replay of the ground truth.
4. **Baseline** (same run): the naive name-level macros, the most frequent contiguous
   n-grams of operation names in the training turns, each standing for any run of calls
   with those names whatever their arguments.

    python benchmarks/bfcl_procedures.py            # the table (about a minute)
    python benchmarks/bfcl_procedures.py --json     # JSON on stdout instead
    python benchmarks/bfcl_procedures.py --json FILE

Needs ``pip install --no-deps bfcl-eval mpmath`` (the data and the APIs' source; its
other dependencies are never imported) and a sandbox (``athena-bwrap``). Progress goes to
stderr. Exit status 1 when a replay's final state differs from the ground truth's or a
program failed.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bfcl_plugin import World, api_classes, plugin, public_methods, task_data
from bfcl_replay import (
    Choice,
    Step,
    Template,
    cover,
    name_macros,
    parse_turn,
    program,
    template_from_code,
)
from timing import note, output

__all__ = ["TARGETS", "main", "measure", "render"]

#: name -> (description, limit, sense).
TARGETS = {
    "saving": ("fewer calls with learned procedures (held-out tasks)", 30.0, ">="),
    "state": ("replays whose final state equals the ground truth's", 100.0, ">="),
    "learn_seconds": ("mining + verification time, training tasks (s)", 60.0, "<="),
}
MACRO_MIN_COUNT = 3


def task_number(task: Mapping[str, Any]) -> int:
    return int(str(task["id"]).rsplit("_", 1)[1])


def resolver(world: World, involved: Sequence[str]
             ) -> Callable[[str], tuple[str, inspect.Signature]]:
    """Method name -> (operation, signature without ``self``) over a task's APIs."""
    table: dict[str, tuple[str, inspect.Signature]] = {}
    for class_name in involved:
        for method, function in public_methods(world.classes[class_name]).items():
            signature = inspect.signature(function)
            params = list(signature.parameters.values())[1:]
            table[method] = (world.operation(class_name, method),
                             signature.replace(parameters=params))

    def resolve(method: str) -> tuple[str, inspect.Signature]:
        if method not in table:
            raise KeyError(f"{method} is not a method of {', '.join(involved)}")
        return table[method]

    return resolve


def _direct(world: World, scope: str, steps: Sequence[Step]) -> None:
    """The ground truth: each call made on the host, no Athena in between."""
    for step in steps:
        world.call_operation(scope, step.operation, step.arguments)


def _turn_program(steps: Sequence[Step], choices: Sequence[Choice]) -> str:
    """A turn's program with shortcuts: each choice a call or a procedure's run."""
    lines = []
    for choice in choices:
        if choice.via is None:
            lines.append(f"    {steps[choice.start].source()},\n")
        else:
            lines.append(f"    athena.procedures.run({choice.via!r}, {dict(choice.inputs)!r}),\n")
    return "import athena\n[\n" + "".join(lines) + "]\n"


def _learner() -> Any:
    try:
        from athena_core.procedures import learning
    except ImportError:
        return None
    return learning


def _templates(athena: Any) -> tuple[list[Template], list[str]]:
    """The templates of every active procedure, and the ids of those that have none."""
    templates, opaque = [], []
    for entry in athena.procedures.catalog.list(status="active"):
        version = athena.procedures.catalog.version(entry.id, entry.active_commit)
        template = template_from_code(entry.id, version.code, version.procedure.entry)
        if template is None:
            opaque.append(entry.id)
        else:
            templates.append(template)
    return templates, opaque


def measure(workdir: Path, tasks: Sequence[Mapping[str, Any]], world: World
            ) -> dict[str, Any]:
    """Record, learn, replay and compare (see the module's documentation).

    ``tasks`` are BFCL multi-turn entries (``id`` ending in its number,
    ``initial_config``, ``involved_classes``, ``ground_truth``); ``world`` holds their
    APIs' classes. Returns the results as JSON data."""
    from athena_core import Athena
    from athena_core.config import Config

    started = time.perf_counter()
    train = [t for t in tasks if task_number(t) % 2 == 0]
    held_out = [t for t in tasks if task_number(t) % 2 == 1]
    steps = {t["id"]: [parse_turn(turn, resolver(world, t["involved_classes"]))
                       for turn in t["ground_truth"]] for t in tasks}
    note(f"bfcl: {len(tasks)} multi-turn base tasks ({len(train)} training, "
         f"{len(held_out)} held out), {sum(len(s) for t in tasks for s in steps[t['id']])} "
         "ground-truth calls")
    for t in tasks:  # the ground truth, replayed on the host
        world.load(f"truth:{t['id']}", t["initial_config"], t["involved_classes"])
        _direct(world, f"truth:{t['id']}", [s for turn in steps[t["id"]] for s in turn])

    home = workdir / "home"
    home.mkdir()
    config = Config.from_mapping({}, data_dir=home.resolve(), env={})
    result: dict[str, Any] = {"tasks": {"total": len(tasks), "training": len(train),
                                        "held_out": len(held_out)}}
    with Athena.open(home, config=config, plugins=[plugin(world)]) as athena:
        # 1. record the training tasks
        clock = time.perf_counter()
        failed: list[str] = []
        executions = 0
        for t in train:
            scope = f"bfcl:{t['id']}"
            world.load(scope, t["initial_config"], t["involved_classes"])
            for turn in steps[t["id"]]:
                run = athena.execute(program(turn), scope=scope)
                executions += 1
                if run.status != "ok":
                    failed.append(f"{t['id']}: {run.status} {run.error}")
            if world.state(scope) != world.state(f"truth:{t['id']}"):
                failed.append(f"{t['id']}: recorded state differs from the ground truth's")
        result["record"] = {"executions": executions, "failed": failed,
                            "seconds": time.perf_counter() - clock}
        note(f"  recorded {executions} programs of {len(train)} training tasks "
             f"({time.perf_counter() - clock:.1f} s), {len(failed)} failed")

        # 2. learn
        learning = _learner()
        if learning is None:
            result["learn"] = None
            templates: list[Template] = []
            note("  athena_core.procedures.learning is not there: no learned procedures")
        else:
            clock = time.perf_counter()
            report = learning.learn(athena, min_runs=3, admit=True)
            seconds = time.perf_counter() - clock
            templates, opaque = _templates(athena)
            outcomes = [outcome.to_dict() for outcome in report.outcomes]
            result["learn"] = {
                "seconds": seconds, "proposed": len(outcomes),
                **{status: sum(1 for o in outcomes if o["status"] == status)
                   for status in ("active", "candidate", "rejected")},
                "outcomes": [{key: o[key] for key in ("id", "status", "reason", "parameters",
                                                      "validation")}
                             | {"calls": o["evidence"]["calls"],
                                "runs": o["evidence"]["total_runs"]} for o in outcomes],
                "templates": [_template_json(t) for t in templates],
                "without_template": opaque}
            note(f"  learned in {seconds:.1f} s: {len(templates)} active procedures with "
                 "a fixed call sequence")

        # 3. replay the held-out tasks with the learned procedures
        shortcuts = [(t.id, t.bind, len(t.steps)) for t in templates]
        clock = time.perf_counter()
        rows = []
        for t in held_out:
            scope = f"replay:{t['id']}"
            world.load(scope, t["initial_config"], t["involved_classes"])
            plain = used = 0
            errors = []
            for turn in steps[t["id"]]:
                choices = cover(turn, shortcuts)
                plain += len(turn)
                used += len(choices)
                run = athena.execute(_turn_program(turn, choices), scope=scope)
                if run.status != "ok":
                    errors.append(f"{run.status}: {run.error}")
            truth = f"truth:{t['id']}"
            rows.append({
                "task": t["id"], "calls": plain, "calls_with_procedures": used,
                "state_equal": world.state(scope) == world.state(truth),
                "calls_equal": world.calls(scope) == world.calls(truth),
                "errors": errors})
        result["replay"] = {"rows": rows, "seconds": time.perf_counter() - clock}

    # 4. the name-level macro baseline, from the training turns only, and two ceilings
    names = [[s.operation for s in turn] for t in train for turn in steps[t["id"]]]
    held_turns = [turn for t in held_out for turn in steps[t["id"]]]
    macros = name_macros(names, min_count=MACRO_MIN_COUNT)
    whole = Counter(tuple(turn) for turn in names)
    whole_turns = [m for m, count in whole.items() if count >= MACRO_MIN_COUNT and len(m) > 1]
    result["baseline"] = {}
    for label, chosen in (("macros", macros), ("whole_turns", whole_turns)):
        by_name = [(" ".join(m), _names_bind(m), len(m)) for m in chosen]
        result["baseline"][label] = {
            "macros": len(chosen), "top": [list(m) for m in chosen[:10]],
            "calls": sum(len(cover(turn, by_name)) for turn in held_turns)}
    result["baseline"]["one_call_per_turn"] = {"macros": None, "calls": len(held_turns)}
    result["totals"] = _totals(result)
    result["seconds"] = time.perf_counter() - started
    result["load_average"] = os.getloadavg()
    return result


def _names_bind(names: tuple[str, ...]) -> Callable[[Sequence[Step]], dict[str, Any] | None]:
    def bind(run: Sequence[Step]) -> dict[str, Any] | None:
        return {} if tuple(s.operation for s in run) == names else None
    return bind


def _template_json(template: Template) -> dict[str, Any]:
    return {"id": template.id, "operations": list(template.operations)}


def _saving(before: int, after: int) -> float | None:
    return None if before <= 0 else 100.0 * (1.0 - after / before)


def _totals(result: dict[str, Any]) -> dict[str, Any]:
    rows = result["replay"]["rows"]
    plain = sum(r["calls"] for r in rows)
    used = sum(r["calls_with_procedures"] for r in rows)
    equal = sum(1 for r in rows if r["state_equal"] and not r["errors"])
    learn = result["learn"]
    totals: dict[str, Any] = {
        "calls": plain, "calls_with_procedures": used, "saving_pct": _saving(plain, used),
        "state_equal": equal, "state_equal_pct": 100.0 * equal / len(rows) if rows else None,
        "calls_equal": sum(1 for r in rows if r["calls_equal"]),
        "baseline": {label: {**data, "saving_pct": _saving(plain, data["calls"])}
                     for label, data in result["baseline"].items()},
        "learn_seconds": None if learn is None else learn["seconds"],
        "failed": [r["task"] for r in rows if r["errors"] or not r["state_equal"]]
        + result["record"]["failed"]}
    totals["targets"] = [
        _target("saving", totals["saving_pct"]),
        _target("state", totals["state_equal_pct"]),
        _target("learn_seconds", totals["learn_seconds"])]
    return totals


def _target(name: str, value: float | None) -> dict[str, Any]:
    description, limit, sense = TARGETS[name]
    met = None if value is None else value >= limit if sense == ">=" else value <= limit
    return {"target": name, "description": description, "limit": limit, "sense": sense,
            "value": value, "met": met}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def render(results: dict[str, Any]) -> str:
    totals, tasks = results["totals"], results["tasks"]
    learn = results["learn"]
    lines = [
        "Learned procedures on BFCL multi-turn base tasks: calls an agent issues, with and "
        "without them",
        f"  {results['command']}",
        f"  {results['started_at']}; Python {results['python']}, athena-core "
        f"{results['athena']}, bfcl-eval {results['bfcl_eval']}",
        f"  trained on the {tasks['training']} even-numbered tasks; the {tasks['held_out']} "
        "odd-numbered tasks are held out",
        "",
        f"recorded: {results['record']['executions']} programs "
        f"({results['record']['seconds']:.1f} s), "
        f"{len(results['record']['failed'])} failed",
    ]
    if learn is None:
        lines.append("learned: - (athena_core.procedures.learning is not available)")
    else:
        lines.append(
            f"learned: {learn['proposed']} proposed, {learn['active']} admitted (active), "
            f"{learn['candidate']} failed the gate (kept as candidates), {learn['rejected']} "
            f"rejected (not saved), in {learn['seconds']:.1f} s (mining + verification)")
        for outcome in learn["outcomes"]:
            if outcome["status"] != "active":
                why = outcome["reason"] or ", ".join(
                    check["name"] for check in (outcome["validation"] or {}).get("checks", [])
                    if not check.get("passed"))
                lines.append(f"  not admitted: {outcome['id']} ({outcome['status']}: {why})")
        lines.append(f"  used in the replay: the {len(learn['templates'])} active procedures "
                     "whose calls are a fixed sequence; of several calls:")
        for template in learn["templates"]:
            if len(template["operations"]) > 1:
                lines.append(f"    {template['id']}: {' -> '.join(template['operations'])}")
    header = f"{'held-out replay (odd-numbered tasks)':<60}{'calls':>10}{'saving':>10}"
    lines += ["", header, "-" * len(header),
              f"{'ground truth, one call each':<60}{totals['calls']:>10,}{'':>10}",
              f"{'with learned procedures':<60}{totals['calls_with_procedures']:>10,}"
              f"{_pct(totals['saving_pct']):>10}"]
    labels = {"macros": "baseline: name-level macros, the {n} n-grams seen >= {k}x",
              "whole_turns": "bound: a turn's whole sequence seen >= {k}x ({n})",
              "one_call_per_turn": "bound: every turn one call"}
    for label, data in totals["baseline"].items():
        name = labels[label].format(n=data["macros"], k=MACRO_MIN_COUNT)
        lines.append(f"{name:<60}{data['calls']:>10,}{_pct(data['saving_pct']):>10}")
    lines += ["", f"final state equal to the ground truth's: {totals['state_equal']}/"
              f"{tasks['held_out']}; every call's arguments and result equal: "
              f"{totals['calls_equal']}/{tasks['held_out']}"]
    lines += ["", "Targets", "-" * 72]
    for target in totals["targets"]:
        value = target["value"]
        shown = "-" if value is None else (f"{value:.1f} s" if target["target"] ==
                                           "learn_seconds" else f"{value:.1f}%")
        verdict = "-" if target["met"] is None else "MET" if target["met"] else "MISSED"
        lines.append(f"  {target['description']:<52}{shown:>9}  {target['sense']} "
                     f"{target['limit']:g}  {verdict}")
    if totals["failed"]:
        lines.append(f"\nFAILED: {'; '.join(totals['failed'][:20])}")
    load = ", ".join(f"{value:.1f}" for value in results["load_average"])
    lines.append(f"\ntotal run time {results['seconds']:.0f} s; load average at the end "
                 f"{load} ({os.cpu_count()} CPUs)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bfcl_procedures.py",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write results as JSON to FILE (no FILE: to stdout, no table)")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="where to make the data dir (default: the system temp dir)")
    args = parser.parse_args(argv)
    for key in [key for key in os.environ if key.startswith("ATHENA_")]:
        note(f"ignoring {key} from the environment")
        del os.environ[key]
    from importlib.metadata import version
    from platform import python_version

    workdir = Path(tempfile.mkdtemp(prefix="athena-bfcl-", dir=args.workdir))
    command = "python benchmarks/bfcl_procedures.py" + "".join(
        f" {shlex.quote(a)}" for a in (sys.argv[1:] if argv is None else argv))
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        measured = measure(workdir, task_data(), World(api_classes()))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results = {"command": command, "started_at": started_at, "python": python_version(),
               "athena": version("athena-core"), "bfcl_eval": version("bfcl-eval"),
               **measured}
    output(results, render, args.json)
    return 1 if results["totals"]["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
