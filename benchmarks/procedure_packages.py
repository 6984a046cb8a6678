"""What synchronising the procedure packages costs when nothing changed, and the first time.

    python benchmarks/procedure_packages.py                 # std + a 25-procedure package
    python benchmarks/procedure_packages.py --copies 100    # a larger synthetic package
    python benchmarks/procedure_packages.py --runs 50 --json out.json

The standard package (``procedures/athena-procedures-std``; the installed one if it is
installed, else its source folder, declared by a ``.dist-info`` made in a temporary
directory on ``sys.path``) and a synthetic package ``bench`` holding ``--copies`` copies of
std's procedures are loaded into a fresh data dir. Measured, in one process:

* **first sync**: the first use of ``athena.procedures`` reads both packages, saves them
  (one commit each) and runs the gate (static checks, tests and dry run in the sandbox) on
  every procedure - once per new package version;
* **no-change sync**: ``athena.procedures.sync_packages()`` again, ``--runs`` times: find
  the entry points, locate and hash each package's files, compare with the state row,
  read the catalog's statuses - nothing saved or verified;
* its parts: the entry point scan alone, locating and reading one package;
* baselines in the same run: ``athena.procedures.list()`` (one catalog query) and
  ``catalog.reconcile()`` with nothing to do (what opening the catalog costs anyway).

Progress goes to stderr; figures and ratios to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timing import machine, note, summary

_ROOT = Path(__file__).resolve().parent.parent
_STD = _ROOT / "procedures" / "athena-procedures-std" / "src" / "athena_procedures_std"


def _declare(site: Path, name: str, module: str, folder: Path) -> None:
    """Make ``folder`` an installed package ``name``: a copy at ``site/module`` and a
    ``.dist-info`` with its entry point."""
    shutil.copytree(folder, site / module, ignore=shutil.ignore_patterns("__pycache__"))
    info = site / f"{module}-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(f"[athena.procedures]\n{name} = {module}\n")


def _bench_package(site: Path, std: Path, copies: int) -> None:
    """``bench``: ``copies`` procedures, each a copy of one of std's under a new id."""
    from athena_core.procedures import Procedure

    folder = site / "bench_source"
    folder.mkdir()
    (folder / "package.json").write_text(json.dumps(
        {"format": 1, "name": "bench", "version": "1.0.0",
         "description": "Copies of the standard procedures, for the benchmark."}))
    sources = sorted(path for path in std.iterdir() if (path / "manifest.json").is_file())
    for index in range(copies):
        source = sources[index % len(sources)]
        name = f"{source.name}-{index}"
        target = folder / name
        target.mkdir()
        for file in ("main.py", "test_main.py"):
            shutil.copy(source / file, target / file)
        manifest = json.loads((source / "manifest.json").read_text())
        manifest.pop("format")
        manifest["id"] = f"bench/{name}"
        (target / "manifest.json").write_text(Procedure(**manifest).to_manifest())
    _declare(site, "bench", "athena_procedures_bench", folder)
    shutil.rmtree(folder)


def _times(call: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=25,
                        help="procedures in the synthetic package (default 25)")
    parser.add_argument("--runs", type=int, default=30, help="no-change syncs timed")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    from athena_core import Athena
    from athena_core.config import Config
    from athena_core.procedures.packages import installed_packages, read_package

    work = Path(tempfile.mkdtemp(prefix="athena-packages-bench-"))
    site = work / "site"
    site.mkdir()
    if not any(item.name == "std" for item in installed_packages()):
        _declare(site, "std", "athena_procedures_std", _STD)
    _bench_package(site, _STD, args.copies)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    config = Config.from_mapping({"procedures": {"packages": ["std", "bench"]},
                                  "retrieval": {"embedder": "hashing"}},
                                 data_dir=work / "home", env={})
    result: dict[str, Any] = {"machine": machine(work), "copies": args.copies}
    try:
        with Athena.open(config=config) as athena:
            procedures = athena.procedures
            note("first sync: saving both packages and running the gate on each procedure")
            started = time.perf_counter()
            reports = procedures.packages()
            first = time.perf_counter() - started
            counts = {report.name: len(report.procedures) for report in reports}
            active = sum(item.status == "active" for report in reports
                         for item in report.procedures)
            note(f"no-change sync, {args.runs} runs")
            procedures.sync_packages()  # warm
            unchanged = _times(procedures.sync_packages, args.runs)
            assert all(report.state == "unchanged" for report in procedures.sync_packages())
            scan = _times(installed_packages, args.runs)
            [std] = [item for item in installed_packages() if item.name == "std"]
            [bench] = [item for item in installed_packages() if item.name == "bench"]
            read_std = _times(lambda: read_package(std), args.runs)
            read_bench = _times(lambda: read_package(bench), args.runs)
            listing = _times(procedures.list, args.runs)
            reconcile = _times(procedures.catalog.reconcile, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.update({
        "procedures": counts, "active": active, "first_sync_s": first,
        "no_change_sync": summary(unchanged), "entry_point_scan": summary(scan),
        "read_std": summary(read_std), "read_bench": summary(read_bench),
        "baseline_list": summary(listing), "baseline_reconcile": summary(reconcile)})
    p50 = result["no_change_sync"]["p50_ms"]
    total = sum(counts.values())
    print(f"packages: {counts} ({total} procedures, {active} admitted by the gate)")
    print(f"first sync (save + gate in the sandbox): {first:.1f} s "
          f"({first / max(total, 1):.2f} s per procedure)")
    print(f"no-change sync: p50 {p50:.2f} ms, p95 {result['no_change_sync']['p95_ms']:.2f} ms")
    print(f"  entry point scan:           p50 {result['entry_point_scan']['p50_ms']:.2f} ms")
    print(f"  read + parse std:           p50 {result['read_std']['p50_ms']:.2f} ms "
          "(the no-change path only hashes, it does not parse)")
    print(f"  read + parse bench:         p50 {result['read_bench']['p50_ms']:.2f} ms")
    for label, key in (("athena.procedures.list()", "baseline_list"),
                       ("catalog.reconcile(), nothing new", "baseline_reconcile")):
        base = result[key]["p50_ms"]
        print(f"baseline {label}: p50 {base:.2f} ms; no-change sync / it = "
              f"{p50 / base if base else float('inf'):.1f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
