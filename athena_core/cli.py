"""The ``athena`` command.

Only argparse is imported at start-up, so ``athena --help`` stays fast; each
command imports what it needs. Every command accepts ``--json`` for scripts.
Exit codes: 0 success, 1 an Athena error (message on stderr, or a JSON
``{"error": ...}`` object on stdout with ``--json``), 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main"]

_EPILOG = """\
examples:
  athena init
  athena remember "Deploys go through staging first" --metadata '{"source": "runbook"}'
  athena recall "how do we deploy?" -k 5
  athena remember "ran the test suite" --layer episodic
  athena timeline --since 2026-11-01 --json
  athena export backup.jsonl && athena import backup.jsonl
  echo 'import athena; print(athena.recall("deploy")[0].text)' | athena run -
  athena audit list --kind execution --limit 5 && athena audit verify
  athena procedures list && athena procedures run notes/recent --input days=3
  athena privacy scan --file notes.txt --json
  athena graph relate Alice lives_in Paris --valid-from 2024-03-01 && athena graph current Alice
  athena tasks add 'stand-up notes' --cron '0 9 * * MON-FRI' --zone Europe/Berlin
  athena doctor

The data dir is --home, else $ATHENA_HOME, else ~/.athena.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    from athena_core import calls
    from athena_core.errors import AthenaError

    # The CLI is an entry point: what a command runs stays in its --scope. A server is not
    # a command's call: each of its sessions binds its own context.
    context = (contextlib.nullcontext() if args.handler is _cmd_serve else
               calls.bind(calls.CallContext(scope=getattr(args, "scope", None), caller="cli")))
    try:
        with context:
            return int(args.handler(args) or 0)
    except AthenaError as exc:
        if args.json:
            _print_json({"error": {"type": type(exc).__name__, "message": exc.message,
                                   "hint": exc.hint}})
        else:
            print(f"error: {exc.message}", file=sys.stderr)
            if exc.hint:
                print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `athena recall ... | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


# --- commands ------------------------------------------------------------------


def _cmd_init(args: argparse.Namespace) -> int:
    from athena_core.config import CONFIG_FILENAME, default_config_text, default_data_dir

    home = _home(args) or default_data_dir()
    path = home / CONFIG_FILENAME
    if path.exists() and not args.force:
        _fail_usage(f"{path} already exists; use --force to overwrite it")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(default_config_text(), encoding="utf-8")
    _out(args, {"config": str(path), "data_dir": str(home)},
         f"Wrote {path}\nNext: athena remember \"something worth keeping\"")
    return 0


def _cmd_remember(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    with _open(args) as athena:
        memory_id = athena.remember(text, layer=args.layer, metadata=_json_arg(args.metadata),
                                    importance=args.importance, scope=args.scope)
    _out(args, {"id": memory_id}, memory_id)
    return 0


def _cmd_recall(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        hits = athena.recall(args.query, k=args.k, layers=args.layer or None,
                             as_of=args.as_of, metadata=_json_arg(args.metadata),
                             scope=args.scope)
    if args.json:
        _print_json([hit.to_dict() for hit in hits])
    elif not hits:
        print("no memories found", file=sys.stderr)
    for rank, hit in enumerate(hits if not args.json else [], start=1):
        print(f"{rank:>2}. [{hit.layer}] {hit.text}\n    id {hit.id}  score {hit.score:.4f}")
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        count = athena.forget(args.ids or None, session=args.session, start=args.since,
                              end=args.until, metadata=_json_arg(args.metadata),
                              subject=args.subject, everything=args.all, scope=args.scope)
    _out(args, {"deleted": count}, f"deleted {count} memor{'y' if count == 1 else 'ies'}")
    return 0


def _cmd_timeline(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        events = athena.episodic.timeline(
            start=args.since, end=args.until, session=args.session, kind=args.kind,
            actor=args.actor, context=_json_arg(args.context), limit=args.limit,
            order="desc" if args.desc else "asc", scope=args.scope)
    if args.json:
        _print_json([event.to_dict() for event in events])
    for event in events if not args.json else []:
        session = f" ({event.session})" if event.session else ""
        actor = f" {event.actor}:" if event.actor else ""
        print(f"{event.occurred_at:%Y-%m-%d %H:%M:%S}  {event.kind}{session}:{actor} "
              f"{event.content}")
    return 0


def _cmd_audit_list(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        records = athena.audit.records(scope=args.scope, kind=args.kind, status=args.status,
                                       since=args.since, until=args.until, limit=args.limit)
    if args.json:
        _print_json([record.to_dict() for record in records])
        return 0
    if not records:
        print("no audit records", file=sys.stderr)
    for record in records:
        print(f"{record.seq:>6}  {record.at:%Y-%m-%d %H:%M:%S}  {record.kind}  "
              f"{record.status or '-'}  scope {record.scope}  by {record.caller}"
              f"{'  [scrubbed]' if record.scrubbed else ''}"
              f"{'  [migrated]' if record.migrated else ''}\n"
              f"        {_audit_summary(record)}  id {record.id}")
    return 0


def _audit_summary(record: Any) -> str:
    """One line on what a record is about (never its payload)."""
    details = record.details
    if record.kind == "execution":
        names = ", ".join(dict.fromkeys(record.calls))
        return (f"{record.language or '?'} on {record.executor or '?'} under policy "
                f"{record.policy or '?'}, {record.call_count} athena call(s)"
                f"{f' ({names})' if names else ''}, {record.duration_ms or 0:.0f} ms")
    if record.kind == "tool_call":
        arguments = ", ".join(details.get("arguments", {}))
        return (f"tool {details.get('tool', '?')}({arguments}), "
                f"{record.duration_ms or 0:.0f} ms")
    if record.kind == "forget":
        return f"{details.get('rows', '?')} row(s) by {details.get('selector', '?')}"
    return ", ".join(f"{key}={value}" for key, value in details.items()) or "-"


def _cmd_audit_show(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        record = athena.audit.get(args.id)
    if args.json:
        _print_json(record.to_dict())
        return 0
    data = record.to_dict()
    payload = data.pop("payload")
    for key, value in data.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) \
            else value
        print(f"{key}: {'-' if value is None else shown}")
    if payload is not None:
        print(f"payload:\n{payload}")
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        check = athena.audit.verify()
    if args.json:
        _print_json(check.to_dict())
    elif check.ok:
        print(f"audit log intact: {check.records} records"
              + (f", head {check.head}" if check.head else ""))
    else:
        where = (f"record {check.broken_seq} (id {check.broken_id})" if check.broken_id
                 else "its end")
        print(f"error: the audit log is broken at {where}: {check.reason}.\n"
              f"{check.records} records before it are intact.", file=sys.stderr)
    return 0 if check.ok else 1


def _cmd_plugins_list(args: argparse.Namespace) -> int:
    from athena_core.config import Config
    from athena_core.execution.isolation import ExecutorIsolation, describe, executor_isolation
    from athena_core.runtime import Athena

    config = Config.load(_home(args), path=args.config)
    host = Athena.plugin_host(config)
    infos = host.plugins()
    provided = host.provided()
    isolation: dict[str, list[ExecutorIsolation]] = {}
    for report in executor_isolation(config, host):
        isolation.setdefault(report.plugin, []).append(report)
    if args.json:
        _print_json([{**info.to_dict(), "provides": provided.get(info.name, {}),
                      "isolation": {r.executor: r.to_dict()
                                    for r in isolation.get(info.name, [])}}
                     for info in infos])
        return 1 if host.failures() else 0
    for info in infos:
        where = f"{info.distribution} {info.version}" if info.distribution else "(no distribution)"
        print(f"{info.name}  [{info.status}]  {where}")
        if info.hooks:
            print(f"    hooks: {', '.join(info.hooks)}")
        for family, names in provided.get(info.name, {}).items():
            print(f"    {family}: {', '.join(names)}")
        for report in isolation.get(info.name, []):
            print("\n".join(describe(report)))
        if info.error:
            print(f"    error: {info.error}")
    return 1 if host.failures() else 0


def _cmd_config_show(args: argparse.Namespace) -> int:
    from athena_core.config import Config

    config = Config.load(_home(args), path=args.config)
    data = config.to_dict()
    if args.json:
        _print_json(data)
        return 0
    print(f"# data dir: {data.pop('data_dir')}\n# file: {data.pop('source') or '(defaults)'}")
    for section, values in data.items():
        print(f"\n[{section}]")
        for key, value in values.items():
            print(f"{key} = {json.dumps(value)}")
    return 0


def _cmd_config_check(args: argparse.Namespace) -> int:
    from athena_core.config import Config
    from athena_core.runtime import Athena
    from athena_core.selection import check_selected_plugins

    config = Config.load(_home(args), path=args.config)
    host = Athena.plugin_host(config)
    problems = [info.error for info in host.failures() if info.error]
    problems += [str(error) for _, error in check_selected_plugins(config, host)]
    _out(args, {"ok": not problems, "problems": problems, "source": str(config.source or "")},
         "\n".join(f"problem: {p}" for p in problems) or "configuration is valid")
    return 1 if problems else 0


def _cmd_export(args: argparse.Namespace) -> int:
    from athena_core.transfer import export_jsonl

    with _open(args) as athena:
        if args.file == "-":
            count = export_jsonl(athena, sys.stdout, scope=args.scope, redact=args.redact)
        else:
            with open(args.file, "w", encoding="utf-8") as out:
                count = export_jsonl(athena, out, scope=args.scope, redact=args.redact,
                                     progress=_progress("exporting"))
    if args.file != "-":
        _out(args, {"exported": count, "file": args.file}, f"exported {count} memories")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from athena_core.transfer import import_jsonl

    def progress(phase: str) -> Callable[[int, int], None] | None:
        return _progress(f"importing: {phase}")

    with _open(args) as athena:
        if args.file == "-":
            report = import_jsonl(athena, sys.stdin.buffer, progress=progress)
        else:
            with open(args.file, "rb") as source:
                report = import_jsonl(athena, source, progress=progress)
    _out(args, report.to_dict(),
         f"imported {report.imported} memories ({report.skipped} already present)")
    return 0


def _cmd_reindex(args: argparse.Namespace) -> int:
    with _open(args) as athena:
        assert athena.index is not None
        count = athena.index.reindex(progress=_progress("re-embedding"))
        identity = athena.index.embedder.identity
    _out(args, {"reindexed": count, "embedder": identity},
         f"re-embedded {count} memories with {identity}")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from athena_core.doctor import run_checks
    from athena_core.execution.isolation import describe

    checks = run_checks(_home(args), args.config)
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        _print_json({"ok": not failed, "checks": [c.to_dict() for c in checks]})
        return 1 if failed else 0
    for check in checks:
        print(f"[{check.status:>4}] {check.name}: {check.detail}")
        if check.fix and check.status != "ok":
            print(f"       fix: {check.fix}")
        if check.isolation is not None:
            print("\n".join(describe(check.isolation, indent="       ")[1:]))
    return 1 if failed else 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.file == "-":
        code = sys.stdin.read()
    else:
        try:
            code = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail_usage(f"cannot read {args.file}: {exc}")
    language = args.language or _language_of(args.file)
    policy = args.policy
    if policy and policy.lstrip().startswith("{"):
        policy = _json_arg(policy)
    with _open(args) as athena:
        result = athena.execute(code, language=language, policy=policy, scope=args.scope)
    if args.json:
        _print_json(result.to_dict())
        return 0 if result.ok else 1
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.value is not None:
        print(json.dumps(result.value, ensure_ascii=False))
    for violation in result.violations:
        print(f"note: {violation}", file=sys.stderr)
    if not result.ok:
        where = f" (line {result.error.line})" if result.error and result.error.line else ""
        message = f"{result.error.type}: {result.error.message}" if result.error else ""
        print(f"athena run: {result.status}{where}: {message}", file=sys.stderr)
    return 0 if result.ok else 1


def _language_of(path: str) -> str:
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return {"js": "javascript", "mjs": "javascript", "sh": "bash", "bash": "bash"}.get(
        suffix, "python")


def _sandbox_operations(athena: Any, args: argparse.Namespace) -> tuple[list[Any], str]:
    """The operations a sandboxed program may call under ``--policy``, and the policy's name."""
    from athena_core.execution.bridge import callable_operations

    policy = args.policy
    if policy and policy.lstrip().startswith("{"):
        policy = _json_arg(policy)
    chosen = athena.execution.policy(policy)
    return callable_operations(athena.api, chosen), chosen.name


def _cmd_apis_export(args: argparse.Namespace) -> int:
    from athena_core.discovery import SANDBOX_API_PATH, write_tree
    from athena_core.errors import InvalidArgumentError

    with _open(args) as athena:
        operations, policy = _sandbox_operations(athena, args)
        try:
            path = write_tree(operations, args.directory)
        except OSError as exc:
            raise InvalidArgumentError(f"Cannot write the API tree to {args.directory}: "
                                       f"{exc.strerror or exc}.") from None
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    _out(args, {"directory": str(path), "files": files, "operations": len(operations),
                "policy": policy},
         f"Wrote {len(files)} files for {len(operations)} operations (policy {policy}) to "
         f"{path}\nStart with {path / 'README.md'}; sandboxed programs read the same tree at "
         f"{SANDBOX_API_PATH}.")
    return 0


def _cmd_apis_search(args: argparse.Namespace) -> int:
    from athena_core.discovery import search

    with _open(args) as athena:
        operations, _ = _sandbox_operations(athena, args)
        assert athena.index is not None
        results = search(operations, args.query, detail=args.detail, limit=args.limit,
                         embed=athena.index.embedder.embed)
    if args.json:
        _print_json(results)
        return 0
    if not results:
        print("no operations match", file=sys.stderr)
    for result in results:
        if args.detail == "names":
            print(result)
        elif args.detail == "summary":
            print(f"{result['name']}{result['signature']}\n    {result['summary']}")
        else:
            print(f"{result['signature']}\n    permissions: {', '.join(result['permissions'])}"
                  f"; file: {result['path']}\n")
            print("\n".join(f"    {line}".rstrip() for line in result["doc"].splitlines()))
            if result["parameters"]:
                print("\n    arguments:")
            for param in result["parameters"]:
                print(f"    - {param['name']}: {param['type']}")
            print(f"    returns: {result['returns']}\n")
    return 0


def _warm_up_in_background(athena: Any) -> None:
    """Load the model and the vectors while the server waits for its first call."""
    import logging
    import threading

    def warm_up() -> None:
        try:
            athena.index.warm_up()
        except Exception:  # the first recall meets the same problem and reports it
            logging.getLogger("athena.cli").debug("warm-up failed", exc_info=True)

    threading.Thread(target=warm_up, name="athena-warm-up", daemon=True).start()


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.scope_from_client:
        _fail_usage("--scope-from-client was removed: the name a client gives itself must not "
                    "choose its scope. Give each HTTP client its own token, which decides its "
                    "scope and policy: `athena mcp token add NAME --scope SCOPE` (docs/mcp.md). "
                    "Over stdio, use --scope.")
    from athena_core.mcp.server import build_server, serve_http, serve_stdio

    chosen = os.environ.pop("ATHENA_SERVE_TOKEN", None)  # kept from child processes
    if args.http is None:
        with _open(args) as athena:
            _warm_up_in_background(athena)
            serve_stdio(build_server(athena, classic=args.classic, scope=args.scope))
        return 0
    import secrets

    host, _, port = args.http.rpartition(":")
    host = host or "127.0.0.1"
    if not port.isdigit():
        _fail_usage(f"--http wants [HOST:]PORT, not {args.http!r}")
    with _open(args) as athena:
        clients = athena.config.mcp.clients
        # With clients configured, the server has a token of its own only if one is chosen.
        token = chosen or (None if clients else secrets.token_urlsafe(32))
        _warm_up_in_background(athena)
        server = build_server(athena, classic=args.classic, scope=args.scope)
        print(f"Athena MCP server at http://{host}:{port}/mcp", file=sys.stderr)
        if clients:
            print(f"clients: {', '.join(sorted(clients))}  ([mcp.clients] in athena.toml)",
                  file=sys.stderr)
        if token and not chosen:
            print(f"bearer token: {token}  (set ATHENA_SERVE_TOKEN to choose it)",
                  file=sys.stderr)
        serve_http(server, athena, host=host, port=int(port), token=token, scope=args.scope)
    return 0


def _config_path(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from athena_core.config import CONFIG_FILENAME, default_data_dir

    if args.config:
        return Path(args.config).expanduser()
    return (_home(args) or default_data_dir()) / CONFIG_FILENAME


def _cmd_mcp_token_add(args: argparse.Namespace) -> int:
    from athena_core.mcp.clients import add_client

    path = _config_path(args)
    token = add_client(path, args.name, scope=args.scope, policy=args.policy or "")
    if args.json:
        _print_json({"client": args.name, "token": token, "scope": args.scope,
                     "policy": args.policy, "config": str(path)})
        return 0
    print(token)  # alone on stdout: TOKEN=$(athena mcp token add ...)
    print(f"The bearer token of client {args.name!r}: scope {args.scope!r}, "
          f"{f'policy {args.policy!r}' if args.policy else 'the [execution] policy'}.\n"
          f"Copy it now: it is not shown again, {path} keeps only its SHA-256.\n"
          "A running server knows it once restarted.", file=sys.stderr)
    return 0


def _cmd_mcp_token_list(args: argparse.Namespace) -> int:
    from athena_core.mcp.clients import list_clients

    clients = list_clients(_config_path(args))
    rows = [{"client": c.name, "scope": c.scope, "policy": c.policy or None} for c in clients]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no MCP clients; add one with `athena mcp token add NAME --scope SCOPE`",
              file=sys.stderr)
    for row in rows:
        print(f"{row['client']}  scope {row['scope']}  policy "
              f"{row['policy'] or '(the [execution] policy)'}")
    return 0


def _cmd_mcp_token_remove(args: argparse.Namespace) -> int:
    from athena_core.mcp.clients import remove_client

    path = _config_path(args)
    remove_client(path, args.name)
    _out(args, {"removed": args.name, "config": str(path)},
         f"Removed client {args.name!r} from {path}; its token stops working when the "
         "server restarts.")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from athena_core.demo import run_demo

    return run_demo(_home(args), as_json=args.json)


# --- plumbing ---------------------------------------------------------------------


def _home(args: argparse.Namespace) -> Any:
    from pathlib import Path

    return Path(args.home).expanduser() if args.home else None


def _open(args: argparse.Namespace) -> Any:
    from athena_core.runtime import Athena

    return Athena.open(_home(args), config=args.config)


def _json_arg(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        _fail_usage(f"not valid JSON: {value!r} ({exc})")


def _fail_usage(message: str) -> None:
    print(f"athena: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        _print_json(data)
    else:
        print(text)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def _progress(label: str) -> Callable[[int, int], None] | None:
    """A one-line progress bar on stderr, shown only on a terminal."""
    if not sys.stderr.isatty():
        return None
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        rate = done / max(time.monotonic() - started, 1e-9)
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done}/{total} ({rate:,.0f}/s){end}")
        sys.stderr.flush()

    return show


def _common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """--home/--config/--json, accepted before or after the command.

    Only the top-level parser sets defaults; a subcommand's copy must not
    overwrite a value given before the command name.
    """
    keep: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    parser.add_argument("--home", metavar="DIR",
                        help="data dir (default $ATHENA_HOME or ~/.athena)", **keep)
    parser.add_argument("--config", metavar="FILE",
                        help="athena.toml to use instead of the data dir's", **keep)
    parser.add_argument("--json", action="store_true", help="machine-readable output", **keep)


def _parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The command line's parser; ``argv`` (the arguments to parse) decides which
    commands need their subcommands built (``graph``'s come from the operations'
    declarations, which import the storage layer: only for ``athena graph ...``)."""
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, defaults=False)
    scoped = argparse.ArgumentParser(add_help=False)
    scoped.add_argument("--scope", help="memory scope (default: [memory] default_scope)")

    parser = argparse.ArgumentParser(
        prog="athena", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Long-term memory for AI agents: store, recall and manage memories.")
    _common_options(parser, defaults=True)
    parser.add_argument("--version", action="version", version=f"athena {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_: str,
                *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common, *parents], help=help_,
                                  description=help_)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("init", _cmd_init, "write a commented default athena.toml")
    sub.add_argument("--force", action="store_true", help="overwrite an existing file")

    sub = command("remember", _cmd_remember, "store a memory and print its id", scoped)
    sub.add_argument("text", help="what to remember ('-' reads stdin)")
    sub.add_argument("--layer", default="semantic", help="memory layer (default semantic)")
    sub.add_argument("--metadata", metavar="JSON", help="metadata object, as JSON")
    sub.add_argument("--importance", type=float, default=0.5, help="0..1 (default 0.5)")

    sub = command("recall", _cmd_recall, "find the memories most relevant to a query", scoped)
    sub.add_argument("query")
    sub.add_argument("-k", type=int, default=10, help="how many (default 10)")
    sub.add_argument("--layer", action="append", help="only this layer (repeatable)")
    sub.add_argument("--as-of", metavar="TIME", help="what was valid then (ISO-8601)")
    sub.add_argument("--metadata", metavar="JSON", help="only memories with these metadata values")

    sub = command("forget", _cmd_forget, "delete memories for good: by id, or in bulk", scoped)
    sub.add_argument("ids", nargs="*", metavar="ID")
    sub.add_argument("--session", help="every event of this session")
    sub.add_argument("--since", metavar="TIME", help="memories from this time (ISO-8601)")
    sub.add_argument("--until", metavar="TIME", help="memories before this time (ISO-8601)")
    sub.add_argument("--metadata", metavar="JSON", help="memories with these metadata values")
    sub.add_argument("--subject", metavar="VALUE",
                     help="every memory holding this sensitive value (an e-mail address, a "
                          "phone number...), and the value's encrypted copy")
    sub.add_argument("--all", action="store_true", help="every memory of the scope")

    sub = command("timeline", _cmd_timeline, "list episodic events in time order", scoped)
    sub.add_argument("--since", metavar="TIME", help="from this time (ISO-8601)")
    sub.add_argument("--until", metavar="TIME", help="before this time (ISO-8601)")
    sub.add_argument("--session")
    sub.add_argument("--kind")
    sub.add_argument("--actor", help="only events said or done by this actor")
    sub.add_argument("--context", metavar="JSON", help="only events with these context values")
    sub.add_argument("--limit", type=int, default=100)
    sub.add_argument("--desc", action="store_true", help="most recent first")

    audit = commands.add_parser(
        "audit", help="list, show and verify the audit log (executions, tool calls, forgets)",
        description="The audit log records every execution, MCP tool call and forget. It is "
                    "not memory: recall never returns it, and programs cannot change it.")
    audit_commands = audit.add_subparsers(title="commands", metavar="COMMAND")
    sub = audit_commands.add_parser(
        "list", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="list audit records, the latest first",
        epilog="examples:\n  athena audit list --kind execution --status error --limit 20\n"
               "  athena audit list --scope agent-7 --since 2026-12-01 --json")
    sub.add_argument("--scope", help="only this scope (default: all scopes)")
    sub.add_argument("--kind", help="only this kind: execution, tool_call, forget, procedure_run, "
                     "detokenisation, key_operation, export")
    sub.add_argument("--status", help="only this status: ok, error, timeout, killed, denied")
    sub.add_argument("--since", metavar="TIME", help="from this time (ISO-8601)")
    sub.add_argument("--until", metavar="TIME", help="before this time (ISO-8601)")
    sub.add_argument("--limit", type=int, default=100, metavar="N",
                     help="at most N records (default 100)")
    sub.set_defaults(handler=_cmd_audit_list)
    sub = audit_commands.add_parser("show", parents=[common],
                                    help="every field of one record, its program included")
    sub.add_argument("id", metavar="ID", help="record id (an execution's is its execution id)")
    sub.set_defaults(handler=_cmd_audit_show)
    sub = audit_commands.add_parser(
        "verify", parents=[common],
        help="check the hash chain; exit status 1 names the first broken record")
    sub.set_defaults(handler=_cmd_audit_verify)

    plugins = commands.add_parser("plugins", help="list installed plugins")
    plugin_commands = plugins.add_subparsers(title="commands", metavar="COMMAND")
    sub = plugin_commands.add_parser(
        "list", parents=[common],
        help="name, distribution, version and hooks of each plugin, the names it registers, "
             "and the isolation each executor puts in force here")
    sub.set_defaults(handler=_cmd_plugins_list)

    config = commands.add_parser("config", help="show or check the configuration")
    config_commands = config.add_subparsers(title="commands", metavar="COMMAND")
    sub = config_commands.add_parser("show", parents=[common], help="print the effective config")
    sub.set_defaults(handler=_cmd_config_show)
    sub = config_commands.add_parser("check", parents=[common],
                                     help="validate config and the backends it names")
    sub.set_defaults(handler=_cmd_config_check)

    sub = command("export", _cmd_export, "write memories to a JSON Lines file")
    sub.add_argument("file", nargs="?", default="-", help="output file (default stdout)")
    sub.add_argument("--scope", help="only this scope (default: all scopes)")
    sub.add_argument("--redact", action="store_true",
                     help="leave the encrypted sensitive values out: the file then holds "
                          "their placeholders only")

    sub = command("import", _cmd_import, "read memories from an export file")
    sub.add_argument("file", help="export file ('-' reads stdin)")
    sub.add_argument("--scope", help="only into this scope: a record of another scope "
                     "refuses the whole file (default: the scopes the file names)")

    sub = command("run", _cmd_run, "run a program in the sandbox (it can `import athena`)",
                  scoped)
    sub.add_argument("file", help="program file ('-' reads stdin)")
    sub.add_argument("--policy", help="strict (default), research, development, a "
                     "[policies.NAME] from athena.toml, or a policy as JSON")
    sub.add_argument("--language", choices=("python", "javascript", "bash"),
                     help="default: from the file extension (.js, .sh), else python")

    apis = commands.add_parser(
        "apis", help="export or search the API that sandboxed programs call",
        description="The operations a sandboxed program can call through `import athena`, "
                    "as a tree of stub files (export) or ranked for a question (search).")
    apis_commands = apis.add_subparsers(title="commands", metavar="COMMAND")
    policy_help = ("only operations this policy lets a program call: strict, research, "
                   "development, a [policies.NAME] from athena.toml, or a policy as JSON "
                   "(default: [execution] policy)")
    sub = apis_commands.add_parser(
        "export", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="write the API tree: one stub file per operation, with README.md indexes",
        description="Write the API tree that sandboxed programs read at /athena/apis:\n"
                    "a README.md index, one folder per namespace with its own README.md,\n"
                    "and one Python stub per operation (signature, docstring, permissions).",
        epilog="examples:\n  athena apis export ./apis && cat ./apis/README.md\n"
               "  athena apis export ./apis --policy research --json\n\n"
               "DIR must be new, empty or an earlier export; it is replaced atomically.")
    sub.add_argument("directory", metavar="DIR", help="where to write the tree")
    sub.add_argument("--policy", help=policy_help)
    sub.set_defaults(handler=_cmd_apis_export)
    sub = apis_commands.add_parser(
        "search", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="find the operations that answer a question, best first",
        description="Rank the operations a sandboxed program can call by how well their\n"
                    "names and documentation match QUERY (full-text and embeddings, fused).",
        epilog="examples:\n  athena apis search \"find memories about a topic\"\n"
               "  athena apis search \"events between two dates\" --detail full\n"
               "  athena apis search \"delete a memory\" --detail names --limit 3 --json")
    sub.add_argument("query", metavar="QUERY", help="what you want to do, in words")
    sub.add_argument("--detail", choices=("names", "summary", "full"), default="summary",
                     help="names only; signature and first line (default); or everything")
    sub.add_argument("--limit", type=int, default=10, metavar="N",
                     help="at most N operations (default 10)")
    sub.add_argument("--policy", help=policy_help)
    sub.set_defaults(handler=_cmd_apis_search)

    sub = commands.add_parser(
        "serve", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="serve Athena to AI agents over MCP (stdio by default)",
        description="An MCP server. By default it offers two tools: run_code (a program in\n"
                    "the sandbox, where `import athena` reaches memory) and search_api (find\n"
                    "operations); the API tree is offered as resources athena://apis/...\n"
                    "With --classic every operation is a tool of its own instead.",
        epilog="examples:\n  athena serve                    # stdio, for a client that starts it\n"
               "  claude mcp add athena -- athena serve\n"
               "  athena serve --http 8765        # http://127.0.0.1:8765/mcp, bearer token\n"
               "  athena mcp token add alice --scope team:alice   # a client of its own\n"
               "  athena serve --classic          # one tool per operation")
    sub.add_argument("--classic", action="store_true",
                     help="one MCP tool per operation instead of run_code and search_api")
    sub.add_argument("--scope", help="scope of every session (default: [mcp] scope, else "
                     "[memory] default_scope)")
    sub.add_argument("--scope-from-client", action="store_true",
                     help=argparse.SUPPRESS)  # removed: says what replaces it
    sub.add_argument("--http", metavar="[HOST:]PORT",
                     help="serve streamable HTTP on HOST (default 127.0.0.1) instead of stdio; "
                          "clients send a bearer token: one of [mcp.clients] (`athena mcp "
                          "token add`), or ATHENA_SERVE_TOKEN, or the one printed at start")
    sub.set_defaults(handler=_cmd_serve)

    mcp = commands.add_parser("mcp", help="manage the HTTP clients of `athena serve`")
    mcp_commands = mcp.add_subparsers(title="commands", metavar="COMMAND")
    token = mcp_commands.add_parser("token", help="add, list or remove client tokens")
    token_commands = token.add_subparsers(title="commands", metavar="COMMAND")
    sub = token_commands.add_parser(
        "add", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="give a client a new token, tied to a scope and a policy",
        description="Make a bearer token for client NAME and print it once. athena.toml\n"
                    "keeps only its SHA-256, in a [mcp.clients.NAME] table: requests with the\n"
                    "token work in SCOPE under POLICY, whatever the client calls itself.",
        epilog="examples:\n  athena mcp token add alice --scope team:alice\n"
               "  athena mcp token add ci --scope ci --policy research --json")
    sub.add_argument("name", metavar="NAME", help="the client's name: letters, digits, _ or -")
    sub.add_argument("--scope", required=True, help="the scope of the client's sessions")
    sub.add_argument("--policy", help="strict, research, development or a [policies.NAME] "
                     "(default: [execution] policy)")
    sub.set_defaults(handler=_cmd_mcp_token_add)
    sub = token_commands.add_parser("list", parents=[common],
                                    help="the clients, with their scopes and policies")
    sub.set_defaults(handler=_cmd_mcp_token_list)
    sub = token_commands.add_parser("remove", parents=[common],
                                    help="remove a client and so its token")
    sub.add_argument("name", metavar="NAME")
    sub.set_defaults(handler=_cmd_mcp_token_remove)

    from athena_core.cli_procedures import register as register_procedures

    register_procedures(commands, common, scoped)
    from athena_core.cli_privacy import register as register_privacy

    register_privacy(commands, common, scoped)
    from athena_core.cli_graph import register as register_graph

    register_graph(commands, common, scoped, subcommands="graph" in argv)
    from athena_core.cli_keys import register as register_keys

    register_keys(commands, common, scoped)
    from athena_core.cli_tasks import register as register_tasks

    register_tasks(commands, common, scoped)

    command("reindex", _cmd_reindex, "re-embed every memory with the configured embedder")
    command("doctor", _cmd_doctor, "check the installation and say what to fix")
    command("demo", _cmd_demo, "a short end-to-end run of what an agent does with Athena")
    return parser


def _version() -> str:
    from athena_core import __version__

    return __version__


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
