"""Run Athena's benchmarks and print a table (see benchmarks/README.md).

    python benchmarks/run.py                  # core (10k and 100k memories) + execution
    python benchmarks/run.py --quick          # 10k only, fewer samples, about a minute
    python benchmarks/run.py --only core      # the core benchmarks alone
    python benchmarks/run.py --only execution # Athena.execute and the bridge, < 1 minute
    python benchmarks/run.py --only tokens    # token economy of the MCP server, code vs classic
    python benchmarks/run.py --json out.json  # also write machine-readable results
    python benchmarks/run.py --json           # JSON on stdout instead of the table

Every Athena figure is printed next to a baseline measured in the same run,
with the ratio. Performance is measured here, never asserted in the test suite.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import core
import execution
import tokens
from timing import machine, note, output

#: name -> (description, limit in ms)
BUDGETS = {
    "import": ("import athena_core median", 150.0),
    "remember": ("remember p95", 25.0),
    "recall": ("recall k=10 p50", 15.0),
    "execute": ("warm execute p50 (trivial program)", 5.0),
    "bridge": ("bridge call p50 (no-op operation)", 0.2),
}
RECALL_BUDGET_SIZE = 100_000


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}"
                                         ) from None
    if not sizes or sizes[0] < 100:
        raise argparse.ArgumentTypeError("sizes must be at least 100")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="10k memories only and fewer samples (about a minute)")
    parser.add_argument("--only", choices=("core", "execution", "tokens"),
                        help="run one part: the core benchmarks (start-up, remember, "
                             "recall), the execution benchmarks (Athena.execute, bridge) "
                             "or the token economy of the MCP server (only run when asked)")
    parser.add_argument("--sizes", type=_sizes, metavar="N,N",
                        help="store sizes to measure (default 10000,100000; --quick: 10000)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write results as JSON to FILE (no FILE: to stdout, no table)")
    parser.add_argument("--recall-samples", type=int, metavar="N",
                        help="timed recall queries per size (default 300; --quick: 60)")
    parser.add_argument("--remember-samples", type=int, metavar="N",
                        help="timed remember calls per size (default 300; --quick: 60)")
    parser.add_argument("--startup-runs", type=int, metavar="N",
                        help="fresh processes per start-up command (default 20; --quick: 7)")
    parser.add_argument("--warm-runs", type=int, metavar="N",
                        help="timed warm Athena.execute calls per executor "
                             "(default 60; --quick: 30)")
    parser.add_argument("--cold-runs", type=int, metavar="N",
                        help="timed cold Athena.execute calls per executor "
                             "(default 30; --quick: 15)")
    parser.add_argument("--bridge-calls", type=int, default=1000, metavar="N",
                        help="athena calls per bridge benchmark program (default 1000)")
    parser.add_argument("--bridge-rounds", type=int, metavar="N",
                        help="bridge benchmark programs per operation (default 3; --quick: 2)")
    parser.add_argument("--settle-ms", type=float, default=100.0, metavar="MS",
                        help="pause before each warm call so the pool is full (default 100)")
    parser.add_argument("--encoding", choices=tokens.ENCODINGS, default=tokens.ENCODINGS[0],
                        help="tokenizer encoding of the token benchmark (default o200k_base)")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="where to build the stores (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the built stores")
    parser.add_argument("--seed", type=int, default=20261101, help="workload seed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000])
    recall_samples = args.recall_samples or (60 if args.quick else 300)
    remember_samples = args.remember_samples or (60 if args.quick else 300)
    startup_runs = args.startup_runs or (7 if args.quick else 20)
    warm_runs = args.warm_runs or (30 if args.quick else 60)
    cold_runs = args.cold_runs or (15 if args.quick else 30)
    bridge_rounds = args.bridge_rounds or (2 if args.quick else 3)
    run_core, run_execution = args.only in (None, "core"), args.only in (None, "execution")
    run_tokens = args.only == "tokens"
    workdir = Path(tempfile.mkdtemp(prefix="athena-bench-", dir=args.workdir))
    began = time.perf_counter()
    command = "python benchmarks/run.py" + "".join(
        f" {shlex.quote(a)}" for a in (sys.argv[1:] if argv is None else argv))
    results: dict[str, Any] = {
        "command": command,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "machine": machine(workdir),
        "settings": {"sizes": sizes if run_core else [], "recall_samples": recall_samples,
                     "remember_samples": remember_samples, "startup_runs": startup_runs,
                     "k": core.K, "seed": args.seed, "workdir": str(workdir),
                     "athena": "defaults: SQLite WAL, synchronous=full"},
        "sizes": {},
    }
    try:
        if run_core:
            note(f"start-up: {startup_runs} fresh processes per command")
            results["startup"] = core.startup(startup_runs)
        for size in sizes if run_core else []:
            home = workdir / f"store-{size}"
            note(f"store of {size:,} memories in {home}")
            built = core.run_child("build", "--home", str(home), "--size", str(size),
                                   "--seed", str(args.seed))
            measured = core.run_child("measure", "--home", str(home), "--size", str(size),
                                      "--seed", str(args.seed),
                                      "--recall-samples", str(recall_samples),
                                      "--remember-samples", str(remember_samples))
            results["sizes"][str(size)] = {"build": built, **measured}
            results["settings"]["athena"] = (
                f"defaults: embedder {measured['embedder']}, {measured['vector_backend']} "
                "vector index, SQLite WAL, synchronous=full")
            if not args.keep:
                shutil.rmtree(home, ignore_errors=True)
        if run_execution:
            note(f"execution: {cold_runs} cold and {warm_runs} warm calls per executor, "
                 f"{bridge_rounds} x {args.bridge_calls} bridge calls per operation")
            results["execution"] = execution.run_child(
                workdir / "execution", warm_runs=warm_runs, cold_runs=cold_runs,
                bridge_calls=args.bridge_calls, bridge_rounds=bridge_rounds,
                settle_ms=args.settle_ms)
        if run_tokens:
            note(f"tokens: {len(tokens.TASKS)} tasks in code and classic mode, "
                 f"tokenizer {args.encoding}")
            results["tokens"] = tokens.run_child(workdir / "tokens", encoding=args.encoding,
                                                 seed=args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            note(f"stores kept in {workdir}")
    results["total_s"] = time.perf_counter() - began
    results["budgets"] = budgets(results)

    output(results, render, args.json)
    failed = results.get("tokens", {}).get("totals", {}).get("failed")
    if failed:
        note(f"FAILED token benchmark tasks: {', '.join(failed)}")
        return 1
    return 0


# --- budgets ------------------------------------------------------------------------------


def budgets(results: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []

    def add(name: str, where: str, value: float | None, why: str = "") -> None:
        description, limit = BUDGETS[name]
        verdicts.append({"budget": name, "description": description, "where": where,
                         "limit_ms": limit, "value_ms": value,
                         "met": None if value is None else value <= limit,
                         **({"note": why} if why else {})})

    if "startup" in results:
        add("import", "fresh process", results["startup"]["import"]["p50_ms"])
        for size, data in results["sizes"].items():
            add("remember", f"{int(size):,} memories", data["remember"]["remember"]["p95_ms"])
        data = results["sizes"].get(str(RECALL_BUDGET_SIZE))
        add("recall", f"{RECALL_BUDGET_SIZE:,} memories",
            _recall_alone(data["recall"])["p50_ms"] if data else None,
            "" if data else f"not measured (needs --sizes with {RECALL_BUDGET_SIZE})")
    for name, data in results.get("execution", {}).get("executors", {}).items():
        warm = data["warm"]
        if warm["pooled"]:
            add("execute", name, warm["execute"]["p50_ms"])
        else:
            add("execute", name, None, "no worker pool: every call is cold")
        add("bridge", name, data["bridge"]["echo"]["p50_ms"])
    return verdicts


# --- the table ------------------------------------------------------------------------------

_W = 58


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:8.2f}" if value < 1000 else f"{value:8.0f}"


def _recall_alone(recall: dict[str, Any]) -> dict[str, Any]:
    """Recall timed on its own (results before it was measured: the interleaved figure)."""
    return recall.get("in_a_row", recall["recall"])


def _row(label: str, stats: dict[str, Any] | None, base: dict[str, Any] | None = None,
         note_: str = "") -> str:
    if not stats or not stats.get("n"):
        return f"{label:<{_W}}{'n/a':>9}  {note_}".rstrip()
    cells = "".join(f" {_ms(stats[key])}" for key in ("best_ms", "p50_ms", "p95_ms"))
    ratio = ""
    if base and base.get("n"):
        ratio = (f"  {stats['p50_ms'] / base['p50_ms']:6.2f}x"
                 f" {stats['p95_ms'] / base['p95_ms']:6.2f}x")
    elif base is not None:
        ratio = " " * 16
    return f"{label:<{_W}}{cells}{ratio}  {note_}".rstrip()


def _header(title: str, ratios: bool = True) -> list[str]:
    columns = f"{'best':>9}{'p50':>9}{'p95':>9}"
    if ratios:
        columns += f"  {'p50 x':>7} {'p95 x':>7}"
    return ["", f"{title:<{_W}}{columns}", "-" * (_W + len(columns))]


def _verdict(verdicts: list[dict[str, Any]], name: str, where: str) -> str:
    for verdict in verdicts:
        if verdict["budget"] == name and verdict["where"] == where:
            if verdict["met"] is None:
                return ""
            mark = "MET" if verdict["met"] else "MISSED"
            return f"budget {verdict['limit_ms']:g} ms: {mark}"
    return ""


def render(results: dict[str, Any]) -> str:
    m, s = results["machine"], results["settings"]
    verdicts = results["budgets"]
    title = ("Athena benchmarks" if "startup" in results and "execution" in results
             else "Athena core benchmarks" if "startup" in results
             else "Athena execution benchmarks" if "execution" in results
             else "Athena token economy: code mode (one run_code program per task) vs classic "
                  "mode (one tool per operation)")
    lines = [
        title,
        f"  {results['command']}",
        f"  {results['started_at']}; {m['nproc']} CPUs, {m['cpu_model']}, "
        f"{m['memory_mb']:,} MiB; Python {m['python']}, SQLite {m['sqlite']}, "
        f"numpy {m['numpy']}, SQLAlchemy {m['sqlalchemy']}; store on {m['workdir_filesystem']}",
        f"  {s['athena']}; load average at start "
        f"{' '.join(str(x) for x in m['load_average_at_start'] or ['?'])}",
    ]
    if "startup" in results or "execution" in results:
        lines.append("  All times in ms. Ratios: Athena / the baseline printed under it, same run.")
    if "startup" in results:
        lines += _render_core(results)
    if "execution" in results:
        lines += _render_execution(results)
    if "tokens" in results:
        lines += tokens.render_lines(results["tokens"])
    if verdicts:
        lines += ["", "Budgets", "-" * (_W + 27)]
    for verdict in verdicts:
        label = f"  {verdict['description']}, {verdict['where']}"
        limit = f"<= {verdict['limit_ms']:g} ms"
        if verdict["met"] is None:
            lines.append(f"{label:<{_W}}{'-':>8}    {limit:<10} {verdict.get('note', '')}")
        else:
            lines.append(f"{label:<{_W}}{verdict['value_ms']:8.2f} ms {limit:<10} "
                         f"{'MET' if verdict['met'] else 'MISSED'}")
    lines.append(f"\ntotal run time {results['total_s']:.0f} s")
    return "\n".join(lines)


def _render_core(results: dict[str, Any]) -> list[str]:
    verdicts = results["budgets"]
    lines: list[str] = []
    st = results["startup"]
    base = st["baseline"]
    lines += _header(f"Start-up ({st['baseline']['n']} fresh processes each)")
    lines += [
        _row('python -c "import athena_core"', st["import"], base,
             _verdict(verdicts, "import", "fresh process")),
        _row("athena --help", st["help"], base),
        _row('python -c "from athena_core import Athena"', st["import_runtime"], base),
        _row("  baseline: python -c pass", base),
        _row("import athena_core, in-process time only", st["import_in_process"]),
    ]
    for size_text, data in results["sizes"].items():
        size = int(size_text)
        where = f"{size:,} memories"
        rec, rem, build = data["recall"], data["remember"], data["build"]
        mem = data["memory"]
        lines += _header(f"recall k={results['settings']['k']} at {where} "
                         f"({rec['recall']['n']} queries)")
        lines += [
            _row("recall, queries in a row (scope filter, rows fetched)",
                 _recall_alone(rec), {}, _verdict(verdicts, "recall", where)),
            _row("recall, interleaved with the parts and the baseline", rec["recall"],
                 rec["numpy"]),
            _row(f"  baseline: numpy matmul + top-{results['settings']['k']}, "
                 f"{size:,}x{data['dimension']} f32", rec["numpy"]),
            _row(f"  part: dense, backend.search k={rec['pool']}", rec["dense"], rec["numpy"]),
            _row(f"  part: lexical, lexical_search limit={rec['pool']}", rec["lexical"]),
            _row("  part: embed query", rec["embed"]),
            _row("  part: index sync check", rec["sync"]),
            _row(f"  part: fetch {results['settings']['k']} rows, build hits", rec["fetch"]),
        ]
        lines += _header(f"remember at {where} ({rem['remember']['n']} calls)")
        raw_schema = rem["raw_schema"]
        lines += [
            _row("remember (semantic, metadata, synchronous=full)", rem["remember"],
                 rem["raw_insert"], _verdict(verdicts, "remember", where)),
            _row("  baseline: sqlite3 INSERT + COMMIT, same text", rem["raw_insert"]),
            _row("  same rows as remember, hand-written SQL", raw_schema, rem["raw_insert"],
                 raw_schema.get("error", "")),
            _row("  part: embed text", rem["embed"]),
        ]
        lines += ["", f"store of {where}", "-" * (_W + 27)]
        lines += [
            f"{'  build (athena import code path)':<{_W}}{build['import_s']:8.1f} s "
            f"({build['memories_per_s']:,.0f} memories/s)",
            f"{'  database size':<{_W}}{data['db_bytes'] / 2**20:8.1f} MiB",
            f"{'  import runtime + Athena.open':<{_W}}"
            f"{(data['import_runtime_s'] + data['open_s']) * 1000:8.0f} ms",
            f"{'  first recall after open (loads the vectors)':<{_W}}"
            f"{data['first_recall_s'] * 1000:8.0f} ms",
            f"{'  RSS after open / after first recall (peak so far)':<{_W}}"
            f"{mem['after_open']['rss_mb']:8.0f} / {mem['after_first_recall']['rss_mb']:.0f}"
            f" ({mem['after_first_recall']['peak_rss_mb']:.0f}) MiB",
        ]
    return lines


def _parts(parts: dict[str, Any]) -> list[str]:
    return [_row(f"    {label}" if label.startswith("of which") else f"  part: {label}",
                 parts[key]) for label, key in execution.PARTS if parts.get(key, {}).get("n")]


def _value(label: str, ms: float) -> str:
    """A single figure under the p50 column."""
    return f"{label:<{_W}}{'':9} {_ms(ms)}"


def _render_execution(results: dict[str, Any]) -> list[str]:
    verdicts = results["budgets"]
    ex = results["execution"]
    s = ex["settings"]
    lines: list[str] = []
    for name, data in ex["executors"].items():
        cold, warm, bridge = data["cold"], data["warm"], data["bridge"]
        base = cold["baseline"]
        chosen = " (default choice)" if not data.get("config") else ""
        lines += _header(f"{name}{chosen}: cold, pool_size 0 ({cold['execute']['n']} rounds)")
        lines += [
            _row(f'Athena.execute("{s["program"]}"), sandbox started for it',
                 cold["execute"], base),
            _row("  baseline: python -c pass (same interpreter)", base),
            _row("  sandboxed worker alone: start, boot, exit", cold["sandbox_alone"], base,
                 "" if cold["sandbox_alone"].get("n") else "(bubblewrap only)"),
            _value("  overhead: execute p50 - baseline p50",
                   cold["execute"]["p50_ms"] - base["p50_ms"]),
            *_parts(cold["parts"]),
        ]
        if warm["pooled"]:
            lines += _header(f"{name}: warm, pool_size {s['warm_pool_size']} "
                             f"({warm['execute']['n']} calls, {s['settle_ms']:g} ms apart)")
            lines += [
                _row(f'Athena.execute("{s["program"]}"), pre-started worker', warm["execute"],
                     base, _verdict(verdicts, "execute", name)),
                _row("  baseline: python -c pass (cold section)", base),
                _value("  overhead: all of it (no process starts on its path)",
                       warm["execute"]["p50_ms"]),
                _row("  floor: supervise() on an unsandboxed idle worker", warm["floor"]),
                _row("  baseline: sqlite3 INSERT+COMMIT, WAL, sync=FULL", warm["raw_commit"]),
                *_parts(warm["parts"]),
            ]
            if warm["deferred_refill"].get("n"):
                deferred = warm["deferred_refill_parts"]
                lines += [
                    _row("  diagnostic: same, refill held until it returned",
                         warm["deferred_refill"]),
                    _row("    part: audit record", deferred.get("audit record")),
                    _row("    part: supervise", deferred.get("supervise")),
                ]
        else:
            lines += ["", f"{name}: warm: no worker pool, every call starts its sandbox "
                          "(the cold figures)"]
        skip = s["bridge_warmup_calls"]
        lines += _header(f"{name}: bridge, per call ({bridge['rounds']} x "
                         f"{bridge['calls']:,} calls per op)")
        lines += [
            _row("athena.get(id) in the sandbox (bridge + database read)", bridge["get"],
                 bridge["direct"]),
            _row("  baseline: athena.get(id) on the host, in-process", bridge["direct"]),
            _value("  added by the bridge: get p50 - baseline p50",
                   bridge["get"]["p50_ms"] - bridge["direct"]["p50_ms"]),
            _row("  part: host side (BridgeHost.handle)", bridge["get_host_side"],
                 bridge["direct"]),
            _row("  host: get via the API registry + to_jsonable", bridge["operation"],
                 bridge["direct"]),
            _row("athena.bench.echo('x') (no-op) in the sandbox", bridge["echo"], bridge["raw"],
                 _verdict(verdicts, "bridge", name)),
            _row(f"  baseline: raw JSON frames, socketpair, {bridge['reply_bytes']} B reply",
                 bridge["raw"]),
            _row("  part: host side (BridgeHost.handle)", bridge["echo_host_side"]),
            _row(f"whole program, {bridge['calls']:,} x get (Athena.execute)",
                 bridge["programs"]["get"]),
            _row(f"whole program, {bridge['calls']:,} x echo (Athena.execute)",
                 bridge["programs"]["echo"]),
            f"  clock in the sandbox: {bridge['clock']}; the first {skip} calls of each "
            "program are not counted",
        ]
    for name, why in ex["skipped"].items():
        lines += ["", f"{name}: skipped: {why}"]
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
