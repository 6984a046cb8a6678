"""How well what is learned from some BFCL training turns covers the others: the tuning
harness of ``bfcl_procedures.py``, on the training tasks only.

The even-numbered multi-turn base tasks (the training half of ``bfcl_procedures.py``) are
split in two: task number divisible by 4, and not. Each half's turns are mined as the
learner mines the audit log (:func:`athena_core.procedures.call_patterns.patterns_of` on
the windows the recorded programs would give), each pattern drafted into a procedure
(:func:`~athena_core.procedures.pattern_drafting.draft_pattern`) and read back as a
template (``bfcl_replay.template_from_code``); the other half's turns are then covered
with those templates (``bfcl_replay.cover``), both ways. No sandbox, no audit log, no
gate: it measures what the learner would propose and the replay would substitute,
in seconds, never looking at the odd-numbered (held-out) tasks.

    python benchmarks/bfcl_split.py            # the table
    python benchmarks/bfcl_split.py --json     # JSON on stdout instead
    python benchmarks/bfcl_split.py --misses   # and the turns left at more than one call
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bfcl_plugin import World, api_classes, task_data
from bfcl_procedures import resolver, task_number
from bfcl_replay import Step, Template, cover, parse_turn, program, template_from_code
from timing import output

from athena_core import Athena
from athena_core.config import Config
from athena_core.privacy.placeholders import redaction
from athena_core.procedures.call_patterns import Call, Window, _data, patterns_of
from athena_core.procedures.mining import MAX_RUN
from athena_core.procedures.pattern_drafting import draft_pattern, run_inputs

__all__ = ["learn_templates", "main", "misses", "split", "windows"]

_AT = datetime(2026, 1, 1, tzinfo=UTC)


def windows(turns: Sequence[Sequence[Step]]
            ) -> tuple[list[Window], dict[str, tuple[int, int]]]:
    """The windows (and whole programs) the recorded programs of ``turns`` give, as
    :func:`athena_core.procedures.call_patterns.windows_of` reads them from the audit
    log: each turn one program, a list display of its calls."""
    found: list[Window] = []
    whole: dict[str, tuple[int, int]] = {}
    for seq, turn in enumerate(turns):
        execution = f"turn-{seq}"
        context = hashlib.sha256(program(turn).encode("utf-8")).hexdigest()
        plain = [all(_data(value) for value in step.arguments.values()) for step in turn]
        start = 0
        while start < len(turn):
            end = start
            while end < len(turn) and plain[end]:
                end += 1
            if end > start and start == 0 and end == len(turn):
                whole[execution] = (0, end)
            for first in range(start, end):
                for length in range(2, min(MAX_RUN, end - first) + 1):
                    found.append(Window(
                        execution_id=execution, seq=seq, at=_AT, scope="split",
                        part=(first, length), kind="list",
                        calls=tuple(Call(step.operation, dict(step.arguments))
                                    for step in turn[first:first + length]),
                        context=context))
            start = max(end, start + 1)
    return found, whole


def learn_templates(turns: Sequence[Sequence[Step]], sensitive: Callable[[str], bool], *,
                    min_runs: int = 3) -> list[Template]:
    """The templates of the procedures the learner would propose from ``turns`` and
    could save: none whose code or tests (the source runs' inputs) ``sensitive`` says
    hold a sensitive value, which the catalog refuses."""
    found, whole = windows(turns)
    patterns, _ = patterns_of(found, whole, min_runs=min_runs)
    templates = []
    for number, pattern in enumerate(patterns):
        made, defaults = draft_pattern(pattern, docstring="Learned.")
        tests = [", ".join(f"{name}={value!r}" for name, value in
                           run_inputs(made.parameters, defaults, run).items())
                 for run in range(len(pattern.runs))]
        if any(sensitive(text) for text in (made.code, *tests)):
            continue
        template = template_from_code(f"learned/p{number}", made.code)
        if template is not None:
            templates.append(template)
    return templates


def coverage(templates: Sequence[Template], turns: Sequence[Sequence[Step]]
             ) -> dict[str, Any]:
    """Calls needed for ``turns`` with ``templates``, against one each and one a turn."""
    shortcuts = [(t.id, t.bind, len(t.steps)) for t in templates]
    plain = sum(len(turn) for turn in turns)
    used = sum(len(cover(turn, shortcuts)) for turn in turns)
    return {"procedures": len(templates), "turns": len(turns), "calls": plain,
            "calls_with_procedures": used, "saving_pct": 100.0 * (1 - used / plain),
            "bound_pct": 100.0 * (1 - len(turns) / plain)}


def misses(templates: Sequence[Template], turns: Sequence[Sequence[Step]]
           ) -> Counter[tuple[str, ...]]:
    """The turns ``templates`` leave at more than one call: each turn's operations (their
    last dotted part), with the calls beyond one it still needs, summed over the turns."""
    shortcuts = [(t.id, t.bind, len(t.steps)) for t in templates]
    left: Counter[tuple[str, ...]] = Counter()
    for turn in turns:
        extra = len(cover(turn, shortcuts)) - 1
        if extra > 0:
            left[tuple(step.operation.rsplit(".", 1)[-1] for step in turn)] += extra
    return left


def redacted(turn: Sequence[Step], detect: Callable[[str], str | None]) -> list[Step]:
    """``turn`` as the audit log keeps its program: each argument ``detect`` finds a
    sensitive value of a type in (as ``name=value``) replaced by that type's redaction
    (``[PASSWORD]``)."""
    return [Step(step.operation, {
        name: value if (kind := detect(f"{name}={value!r}")) is None else redaction(kind)
        for name, value in step.arguments.items()}) for step in turn]


def split(tasks: Sequence[Mapping[str, Any]], world: World,
          detect: Callable[[str], str | None]) -> dict[str, Any]:
    """Learn on all folds but one of the training tasks, cover that one, each in turn;
    with two folds (task number divisible by 4, and not), and with four. ``detect(text)``:
    the type of the first sensitive value in ``text``, or ``None``."""
    train = [t for t in tasks if task_number(t) % 2 == 0]
    turns = {t["id"]: [parse_turn(turn, resolver(world, t["involved_classes"]))
                       for turn in t["ground_truth"]] for t in train}
    result: dict[str, Any] = {}
    for folds in (2, 4):
        # fold of task n: (n / 2) mod folds; two folds: n divisible by 4, and not
        parts = [[turn for t in train if task_number(t) // 2 % folds == fold
                  for turn in turns[t["id"]]] for fold in range(folds)]
        rows = {}
        for fold in range(folds):
            templates = learn_templates([redacted(turn, detect) for other in range(folds)
                                         if other != fold for turn in parts[other]],
                                        lambda text: detect(text) is not None)
            rows[f"rest->{fold}"] = coverage(templates, parts[fold])
            rows[f"rest->{fold}"]["misses"] = [
                [" -> ".join(operations), extra]
                for operations, extra in misses(templates, parts[fold]).most_common()]
        calls = sum(r["calls"] for r in rows.values())
        used = sum(r["calls_with_procedures"] for r in rows.values())
        rows["all"] = {"calls": calls, "calls_with_procedures": used,
                       "saving_pct": 100.0 * (1 - used / calls),
                       "bound_pct": 100.0 * (1 - sum(r["turns"] for r in rows.values())
                                             / calls)}
        result[f"{folds} folds"] = rows
    return result


def render(result: dict[str, Any], *, misses: bool = False) -> str:
    """The table; with ``misses``, under each fold the turns it leaves at more than one
    call (their operations, and the calls beyond one)."""
    lines = [f"{'learn -> cover':<16}{'procs':>7}{'calls':>7}{'with':>7}{'saving':>9}"
             f"{'bound':>9}"]
    for folds, rows in result.items():
        lines.append(folds)
        for label, row in rows.items():
            lines.append(f"  {label:<14}{row.get('procedures', ''):>7}{row['calls']:>7}"
                         f"{row['calls_with_procedures']:>7}{row['saving_pct']:>8.1f}%"
                         f"{row['bound_pct']:>8.1f}%")
            if misses:
                lines += [f"{extra:>6} +  {operations}"
                          for operations, extra in row.get("misses", ())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bfcl_split.py",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE")
    parser.add_argument("--misses", action="store_true",
                        help="list each fold's turns left at more than one call")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="athena-bfcl-split-") as home:
        config = Config.from_mapping({}, data_dir=Path(home).resolve(), env={})
        with Athena.open(home, config=config) as athena:
            def detect(text: str) -> str | None:
                spans = [] if athena.privacy.vault is None else \
                    athena.privacy.detection.detect(text)
                return spans[0].type if spans else None

            result = split(task_data(), World(api_classes()), detect)
    output(result, lambda found: render(found, misses=args.misses), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
