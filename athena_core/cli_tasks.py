"""``athena tasks`` and ``athena tick``: prospective memory from the command line.

Thin layers over every ``prospective`` operation (``list``, ``get``, ``add``,
``depend``, ``start``, ``done``, ``cancel``, ``fail``, ``runs``, ``due``,
``triggered``) and over :meth:`~athena_core.prospective.service.Prospective.tick`,
which a cron-driven host runs every minute (``* * * * * athena tick``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from athena_core.cli import _open, _print_json

__all__ = ["register"]


def _show(args: argparse.Namespace, value: Any, lines: list[str]) -> int:
    if args.json:
        _print_json(value)
    else:
        for line in lines:
            print(line)
    return 0


def _item_line(item: dict[str, Any]) -> str:
    fire = next((trigger["next_fire"] for trigger in item["triggers"]
                 if trigger.get("next_fire")), None)
    extra = f"  next {fire}" if fire else ""
    waiting = f"  waits for {', '.join(item['waiting'])}" if item["waiting"] else ""
    return (f"{item['id']}  {item['status']:<9} {item['priority']:<6} {item['kind']:<8} "
            f"{item['title']}{extra}{waiting}")


def _cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        items = athena.prospective.list(status=args.status, kind=args.kind, limit=args.limit,
                                        scope=args.scope)
    return _show(args, items, [_item_line(item) for item in items])


def _cmd_add(args: argparse.Namespace) -> int:
    when = None
    if args.when is not None:
        try:
            when = json.loads(args.when)
        except json.JSONDecodeError as exc:
            from athena_core.cli import _fail_usage

            _fail_usage(f"--when must be a JSON object: {exc}")
    options = {name: getattr(args, name) for name in (
        "kind", "notes", "priority", "parent", "due", "at", "every", "cron", "rrule", "start",
        "misfire", "grace") if getattr(args, name) is not None}
    with _open(args) as athena:
        item = athena.prospective.add(args.title, depends_on=args.depends_on or None,
                                      zone=args.zone or "UTC", when=when, scope=args.scope,
                                      **options)
    return _show(args, item, [_item_line(item)])


def _cmd_change(args: argparse.Namespace) -> int:
    """``get``, ``start``, ``done``, ``cancel``, ``fail`` and ``depend`` of one id."""
    extra = {name: getattr(args, name) for name in ("reason", "on")
             if getattr(args, name, None) is not None}
    with _open(args) as athena:
        operation = getattr(athena.prospective, args.change)
        item = operation(args.id, scope=args.scope, **extra)
    return _show(args, item, [_item_line(item)])


def _run_line(run: dict[str, Any]) -> str:
    return (f"{run['fired_at']}  {run['outcome']:<9} x{run['instants']}  task {run['task']}  "
            f"for {run['scheduled_for'] or run['occurrence']}  delivered to "
            f"{run['delivered_to'] or '-'}")


def _cmd_runs(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        runs = athena.prospective.runs(args.id, limit=args.limit, scope=args.scope)
    return _show(args, runs, [_run_line(run) for run in runs])


def _cmd_due(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        runs = athena.prospective.due(limit=args.limit, scope=args.scope)
    return _show(args, runs, [_run_line(run) for run in runs])


def _cmd_triggered(args: argparse.Namespace) -> int:
    announced = {name: getattr(args, name) for name in (
        "text", "operation", "kind", "outcome", "session", "tags", "path", "key")
        if getattr(args, name) is not None}
    with _open(args) as athena:
        runs = athena.prospective.triggered(scope=args.scope, **announced)
    return _show(args, runs, [_run_line(run) for run in runs])


def _cmd_tick(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        report = athena.prospective.tick()
    value = {"triggers": report.triggers, "runs": report.runs, "overdue": report.overdue}
    return _show(args, value, [f"{report.triggers} triggers fired, {report.runs} run records, "
                               f"{report.overdue} fell overdue"])


def register(commands: Any, common: argparse.ArgumentParser,
             scoped: argparse.ArgumentParser) -> None:
    """Add ``athena tasks`` (one command per ``prospective`` operation) and
    ``athena tick``."""
    tasks = commands.add_parser(
        "tasks", help="tasks, goals and reminders with time, event and context triggers",
        description="Prospective memory (docs/layers.md).")
    tasks_commands = tasks.add_subparsers(title="commands", metavar="COMMAND")
    sub = tasks_commands.add_parser("list", parents=[common, scoped],
                                    help="intentions, most urgent first")
    sub.add_argument("--status", choices=["pending", "active", "done", "cancelled", "overdue",
                                          "failed"])
    sub.add_argument("--kind", choices=["task", "goal", "reminder"])
    sub.add_argument("--limit", type=int, default=100)
    sub.set_defaults(handler=_cmd_list)
    sub = tasks_commands.add_parser(
        "add", parents=[common, scoped], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="add a task, goal or reminder, optionally with a trigger",
        epilog="examples:\n"
               "  athena tasks add 'stand-up notes' --cron '0 9 * * MON-FRI' "
               "--zone Europe/Berlin\n"
               "  athena tasks add 'call back' --at 'in 45 minutes' --kind reminder\n"
               "  athena tasks add 'check the deploy' --when '{\"kind\": \"error\", "
               "\"keyword\": \"deploy\"}'")
    sub.add_argument("title")
    sub.add_argument("--kind", choices=["task", "goal", "reminder"])
    sub.add_argument("--notes")
    sub.add_argument("--priority", choices=["low", "normal", "high", "urgent"])
    sub.add_argument("--parent", metavar="GOAL_ID")
    sub.add_argument("--depends-on", action="append", metavar="ID")
    sub.add_argument("--due", help="an ISO time or 'in 3 days'")
    sub.add_argument("--at", help="'2026-12-24T18:00' (in --zone) or 'in 45 minutes'")
    sub.add_argument("--every", help="'30 minutes', '2 hours', '3 days'")
    sub.add_argument("--cron", help="five fields, e.g. '*/15 * * * *'")
    sub.add_argument("--rrule", help="RFC 5545, e.g. 'FREQ=MONTHLY;BYDAY=-1FR'")
    sub.add_argument("--start", help="the first wall-clock time of --every or --rrule")
    sub.add_argument("--zone", help="an IANA time zone (default UTC)")
    sub.add_argument("--when", metavar="JSON", help="an event or context condition")
    sub.add_argument("--misfire", choices=["catch_up_all", "coalesce_once", "skip"])
    sub.add_argument("--grace", help="e.g. '5 minutes' (the default)")
    sub.set_defaults(handler=_cmd_add)
    for change, text in (("get", "one intention, with its notes and outcome"),
                         ("start", "mark an intention active"),
                         ("done", "mark an intention done"), ("cancel", "cancel an intention"),
                         ("fail", "mark an intention failed, saying why"),
                         ("depend", "make an intention wait for others to be done")):
        sub = tasks_commands.add_parser(change, parents=[common, scoped], help=text)
        sub.add_argument("id")
        if change == "fail":
            sub.add_argument("--reason", required=True)
        if change == "depend":
            sub.add_argument("--on", action="append", required=True, metavar="ID")
        sub.set_defaults(handler=_cmd_change, change=change)
    sub = tasks_commands.add_parser("runs", parents=[common, scoped],
                                    help="fire records: when, outcome, delivered to whom")
    sub.add_argument("id", nargs="?")
    sub.add_argument("--limit", type=int, default=100)
    sub.set_defaults(handler=_cmd_runs)
    sub = tasks_commands.add_parser("due", parents=[common, scoped],
                                    help="what is due now, delivered to you once")
    sub.add_argument("--limit", type=int, default=100)
    sub.set_defaults(handler=_cmd_due)
    sub = tasks_commands.add_parser(
        "triggered", parents=[common, scoped],
        help="announce what happened or where you are; print the reminders it fires")
    for name in ("text", "operation", "kind", "outcome", "session", "path", "key"):
        sub.add_argument(f"--{name}")
    sub.add_argument("--tag", dest="tags", action="append", metavar="TAG")
    sub.set_defaults(handler=_cmd_triggered)
    sub = commands.add_parser(
        "tick", parents=[common], help="fire what is due (for cron: '* * * * * athena tick')",
        description="Fire every time trigger due now in every scope, per its misfire policy, "
                    "and mark intentions past due plus grace overdue.")
    sub.set_defaults(handler=_cmd_tick)
