"""``athena procedures``: list, show, run, validate, version and learn procedures from a
shell.

Each subcommand is a thin layer over ``athena.procedures`` (the registered operations)
and the library beneath it (the repository's ``diff`` and ``rollback``, Agent Skills
``export_skill`` and ``import_skill``). Every subcommand takes ``--json``; errors are
reported by :func:`athena_core.cli.main` like those of every other command.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from athena_core.cli import _fail_usage, _json_arg, _open, _out, _print_json, _progress

__all__ = ["register"]

#: The author of the commits the command makes.
_AUTHOR = "cli"


# --- commands ------------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        found = athena.procedures.list(args.query, tags=args.tag or None, status=args.status,
                                       limit=args.limit)
    if args.json:
        _print_json(found)
    elif not found:
        print("no procedures", file=sys.stderr)
    for item in found if not args.json else []:
        tags = f"  [{', '.join(item['tags'])}]" if item["tags"] else ""
        print(f"{item['id']}  {item['status']}{tags}\n    {item['description']}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        shown = athena.procedures.show(args.id)
    if args.json:
        _print_json(shown)
        return 0
    for key, value in shown.items():
        if key != "validation":
            text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) \
                else value
            print(f"{key}: {'-' if value is None else text}")
    if shown["validation"] is not None:
        print("validation:")
        _print_report(shown["validation"])
    return 0


def _cmd_history(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        versions = athena.procedures.history(args.id)
    if args.json:
        _print_json(versions)
    for version in versions if not args.json else []:
        validated = {True: "passed", False: "failed", None: "never"}[version["validated"]]
        print(f"#{version['number']}  {version['commit'][:12]}  {version['status']}  "
              f"{version['created_at']}  by {version['author']}\n"
              f"    {version['message'].strip()}  (validated: {validated}, "
              f"{version['successes']}/{version['runs']} runs ok)")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    from athena_core.procedures import check_procedure_id

    with _open(args) as athena:
        text = athena.procedures.repository.diff(check_procedure_id(args.id), args.a, args.b)
    if args.json:
        _print_json({"diff": text})
    else:
        sys.stdout.write(text)
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from athena_core.procedures import check_procedure_id

    procedure_id = check_procedure_id(args.id)
    with _open(args) as athena:
        version = athena.procedures.catalog.rollback(
            procedure_id, args.commit, author=_AUTHOR,
            message=args.message or f"roll back to {args.commit[:12]}")
        data = _version(athena, procedure_id, version.commit)
    _out(args, data,
         f"{procedure_id}: version #{data['number']} ({data['commit'][:12]}) restores "
         f"{args.commit[:12]}; it is a {data['status']} until validated: "
         f"athena procedures validate {procedure_id}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    with _open(args) as athena, _spinner(f"validating {args.id} in the sandbox"):
        result = athena.procedures.validate(args.id, args.commit)
    active = result["status"] == "active"
    # With [procedures] require_approval a version that passed waits for a person.
    waiting = not active and bool(result["validation"]) and all(
        check["passed"] for check in result["validation"]["checks"])
    if args.json:
        _print_json(result)
        return 0 if active or waiting else 1
    if result["validation"] is not None:
        _print_report(result["validation"])
    print(f"{result['id']} {result['commit'][:12]}: {result['status']} "
          f"(confidence {result['confidence']:.2f})"
          + ("" if active else f"; it passed the gate and awaits approval: athena procedures "
             f"approve {result['id']} {result['commit'][:12]}" if waiting
             else "; it stays a candidate and will not run"))
    return 0 if active or waiting else 1


def _cmd_run(args: argparse.Namespace) -> int:
    inputs = _inputs(args.inputs_json, args.input or [])
    with _open(args) as athena:
        value = athena.procedures.run(args.id, inputs)
    if args.json:
        _print_json({"id": args.id, "value": value})
    else:
        print(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                              indent=2))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from athena_core.procedures import check_procedure_id, export_skill

    procedure_id = check_procedure_id(args.id)
    with _open(args) as athena:
        entry = athena.procedures.catalog.get(procedure_id)
        commit = args.commit or entry.active_commit or entry.latest_commit
        folder = export_skill(athena.procedures.repository.read(procedure_id, commit),
                              args.directory)
    _out(args, {"id": procedure_id, "commit": commit, "folder": str(folder)},
         f"exported {procedure_id} ({commit[:12]}) to {folder}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from athena_core.procedures import import_skill

    skill = import_skill(args.directory, namespace=args.namespace)
    procedure_id = skill.procedure.id
    with _open(args) as athena:
        version = athena.procedures.catalog.save(
            skill.procedure, skill.code, skill.tests, author=_AUTHOR,
            message=f"imported from the skill folder {args.directory}")
        data = _version(athena, procedure_id, version.commit)
    if args.json:
        _print_json({**data, "warnings": list(skill.warnings)})
        return 0
    for warning in skill.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"saved {procedure_id} as version #{data['number']} ({data['commit'][:12]}), a "
          f"{data['status']}; validate it: athena procedures validate {procedure_id}")
    return 0


def _cmd_learn(args: argparse.Namespace) -> int:
    bars: dict[str, Callable[[int, int], None] | None] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in bars:
            bars[phase] = _progress(f"learning: {phase}")
        bar = bars[phase]
        if bar is not None:
            bar(done, total)

    with _open(args) as athena:
        report = athena.procedures.learn(scope=args.scope, min_runs=args.min_runs,
                                         admit=not args.dry_run, progress=progress)
    if args.json:
        _print_json([outcome.to_dict() for outcome in report.outcomes])
        return 0
    if not report.outcomes:
        print(f"nothing to propose: no successful program shape ran {args.min_runs} or more "
              "times with different literals", file=sys.stderr)
    for outcome in report.outcomes:
        _print_outcome(outcome.to_dict())
    return 0


def _print_outcome(outcome: dict[str, Any]) -> None:
    evidence = outcome["evidence"]
    print(f"{outcome['id']}: from {evidence['total_runs']} successful runs "
          f"({', '.join(evidence['calls'])})")
    for run in evidence["runs"]:
        print(f"    run {run['execution_id']}  {run['scope']}  {run['at']}")
    print("    parameters:")
    for parameter in outcome["parameters"]:
        values = ", ".join(repr(value) for value in parameter["values"])
        print(f"      {parameter['name']} ({parameter['type']}): {values}")
    print(f"    literals kept as they were: {evidence['constant_literals']}")
    for note in outcome["notes"]:
        print(f"    note: {note}")
    if outcome["validation"] is not None:
        _print_report(outcome["validation"])
    commit = (outcome["commit"] or "")[:12]
    status = outcome["status"]
    if status == "proposed":
        print(f"{outcome['id']}: not saved (--dry-run)")
    elif status == "rejected":
        print(f"{outcome['id']}: rejected, nothing saved: {outcome['reason']}")
    elif outcome["awaiting_approval"]:
        print(f"{outcome['id']} {commit}: candidate, passed the gate; awaiting approval: "
              f"athena procedures approve {outcome['id']} {commit}")
    else:
        print(f"{outcome['id']} {commit}: {status}"
              + ("" if status == "active" else "; it stays a candidate and will not run"))


def _cmd_approve(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        result = athena.procedures.approve(args.id, args.commit)
    _out(args, result, f"{result['id']} {result['commit'][:12]}: {result['status']} "
                       f"(approved; confidence {result['confidence']:.2f})")
    return 0


# --- plumbing ------------------------------------------------------------------------


def _version(athena: Any, procedure_id: str, commit: str) -> dict[str, Any]:
    """The ``history`` entry of one version."""
    return next(version for version in athena.procedures.history(procedure_id)
                if version["commit"] == commit)


def _print_report(report: dict[str, Any]) -> None:
    for check in report["checks"]:
        mark = "skip" if check.get("skipped") else "pass" if check["passed"] else "fail"
        detail = f": {check['detail']}" if check["detail"] else ""
        print(f"[{mark}] {check['name']}{detail}")
        for outcome in report["tests"] if check["name"] == "tests" else []:
            error = f" ({outcome['error']})" if outcome["error"] else ""
            print(f"    [{'pass' if outcome['passed'] else 'fail'}] {outcome['name']}{error}")


def _inputs(inputs_json: str | None, pairs: list[str]) -> dict[str, Any]:
    """``--inputs-json`` merged with each ``--input NAME=JSON``; a name given twice is a
    usage error."""
    inputs = _json_arg(inputs_json) if inputs_json is not None else {}
    if not isinstance(inputs, dict):
        _fail_usage("--inputs-json must be a JSON object, e.g. '{\"topic\": \"deploys\"}'")
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or not name:
            _fail_usage(f"--input takes NAME=JSON, e.g. topic='\"deploys\"' or days=3, "
                        f"not {pair!r}")
        if name in inputs:
            _fail_usage(f"the input {name!r} is given twice; give it once")
        inputs[name] = _json_arg(text)
    return inputs


@contextlib.contextmanager
def _spinner(label: str) -> Iterator[None]:
    """A spinner on stderr while the block runs, only on a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    done = threading.Event()

    def spin() -> None:
        for mark in itertools.cycle("|/-\\"):
            sys.stderr.write(f"\r{label} {mark}")
            sys.stderr.flush()
            if done.wait(0.1):
                break
        sys.stderr.write("\r" + " " * (len(label) + 2) + "\r")
        sys.stderr.flush()

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def register(commands: Any, common: argparse.ArgumentParser,
             scoped: argparse.ArgumentParser) -> None:
    """Add ``athena procedures ...`` to the ``athena`` parser's subcommands."""
    group = commands.add_parser(
        "procedures", help="list, run, validate and version procedures (code with tests)",
        description="Procedures are code with tests, versioned in git; a version runs only "
                    "once validated. See docs/procedures.md.")
    subcommands = group.add_subparsers(title="commands", metavar="COMMAND")

    def sub(name: str, handler: Callable[[argparse.Namespace], int], help_: str,
            example: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subcommands.add_parser(
            name, parents=[common, *parents], help=help_, description=help_,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=f"example:\n  {example}")
        parser.set_defaults(handler=handler)
        return parser

    parser = sub("list", _cmd_list, "list procedures by id, with status and description",
                 "athena procedures list --tag notes --status active --json")
    parser.add_argument("--tag", action="append", help="only those with this tag (repeatable)")
    parser.add_argument("--status", choices=("candidate", "active", "retired"))
    parser.add_argument("--query", help="only those whose id, description or tags hold "
                        "every word of it")
    parser.add_argument("--limit", type=int, default=100, metavar="N",
                        help="at most N (default 100)")
    parser = sub("show", _cmd_show, "a procedure's manifest, status, runs, confidence and "
                 "validation report", "athena procedures show notes/recent")
    parser.add_argument("id", metavar="ID")
    parser = sub("history", _cmd_history, "a procedure's versions, newest first",
                 "athena procedures history notes/recent --json")
    parser.add_argument("id", metavar="ID")
    parser = sub("diff", _cmd_diff, "a unified diff of a procedure's files between two "
                 "versions", "athena procedures diff notes/recent 3f2a1c 9b0e4d")
    parser.add_argument("id", metavar="ID")
    parser.add_argument("a", metavar="A", help="the older version's commit (or a prefix)")
    parser.add_argument("b", metavar="B", help="the newer version's commit (or a prefix)")
    parser = sub("rollback", _cmd_rollback, "restore an earlier version as a new commit "
                 "(a candidate until validated)",
                 "athena procedures rollback notes/recent 3f2a1c --message 'v2 broke'")
    parser.add_argument("id", metavar="ID")
    parser.add_argument("commit", metavar="COMMIT", help="the version to restore")
    parser.add_argument("--message", "-m", help="why (the commit message)")
    parser = sub("validate", _cmd_validate, "run the gate (static checks, tests in the "
                 "sandbox, a dry run); exit status 1 if the version stays a candidate",
                 "athena procedures validate notes/recent")
    parser.add_argument("id", metavar="ID")
    parser.add_argument("--commit", help="the version to validate (default: the newest)")
    parser = sub("run", _cmd_run, "run a procedure's active version in the sandbox and "
                 "print its value", "athena procedures run notes/recent --input "
                 "topic='\"deploys\"' --input days=3", scoped)
    parser.add_argument("id", metavar="ID")
    parser.add_argument("--input", action="append", metavar="NAME=JSON",
                        help="one input, its value as JSON (repeatable)")
    parser.add_argument("--inputs-json", metavar="JSON", help="the inputs as a JSON object")
    parser = sub("export", _cmd_export, "write a procedure as an Agent Skills folder "
                 "DIRECTORY/<name>", "athena procedures export notes/recent ./skills")
    parser.add_argument("id", metavar="ID")
    parser.add_argument("directory", metavar="DIRECTORY")
    parser.add_argument("--commit", help="the version (default: the active one, else the "
                        "newest)")
    parser = sub("import", _cmd_import, "save an Agent Skills folder as a candidate "
                 "procedure, printing what it had to fix",
                 "athena procedures import ./skills/notes-recent --namespace team")
    parser.add_argument("directory", metavar="DIRECTORY", help="the skill folder (SKILL.md)")
    parser.add_argument("--namespace", help="the id's namespace (default: the one an Athena "
                        "export records, else 'skills')")
    parser = sub("learn", _cmd_learn, "propose procedures from programs run again and again "
                 "with different literals (the audit log), test them against those runs and "
                 "put them through the gate", "athena procedures learn --min-runs 3 --dry-run")
    parser.add_argument("--scope", help="only programs run in this scope (default: every "
                        "scope but the gate's scratch scopes)")
    parser.add_argument("--min-runs", type=int, default=3, metavar="N",
                        help="runs with different literals a program shape needs (default 3)")
    parser.add_argument("--dry-run", action="store_true",
                        help="propose only: run nothing, save nothing")
    parser = sub("approve", _cmd_approve, "make a version that passed the gate active, as a "
                 "person's approval ([procedures] require_approval)",
                 "athena procedures approve learned/recall-remember-1a2b3c4d")
    parser.add_argument("id", metavar="ID")
    parser.add_argument("commit", metavar="COMMIT", nargs="?",
                        help="the version (default: the newest)")
