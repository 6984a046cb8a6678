"""Import at scale: time and peak memory of ``athena import`` against the file's size.

    python benchmarks/import_scale.py                           # 1,000,000 lines
    python benchmarks/import_scale.py --sizes 10000,100000      # quicker
    python benchmarks/import_scale.py --workdir D --keep        # keep the files and stores

Each size gets a generated export file (the workload of ``core.py``: semantic memories
in four scopes, metadata, timestamps over a year) and a fresh process that opens an
empty data dir with the default hashing embedder and imports the file through
``athena_core.transfer.import_jsonl`` (what ``athena import`` runs). It reports the
time of each pass (checking, embedding, writing) and the process's resident memory:
before the import (Athena open, embedder loaded) and at its peak during the import
(``VmHWM`` after resetting it; ``ru_maxrss`` when the reset is not available), so the
import's own footprint is the difference.

Baselines, measured in the same process just before the import: reading the file and
parsing every line with ``json.loads`` (the least any import must do), and the resident
memory of that streaming parse. A bounded import's extra memory stays flat as the file
grows from 10x to 100x; one that held every line or id would grow with it.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from timing import Progress, memory_mb, note
from workload import Workload


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux ``clear_refs`` 5)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    return memory_mb().get("peak_rss_mb") or resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: Path, home: Path) -> dict[str, Any]:
    """Measure one import of ``path`` into the empty data dir ``home`` (in this process)."""
    from athena_core import Athena
    from athena_core.config import Config
    from athena_core.transfer import import_jsonl

    result: dict[str, Any] = {"file_mb": path.stat().st_size / 2**20}
    started = time.perf_counter()
    lines = 0
    with path.open("rb") as source:
        for raw in source:
            json.loads(raw)
            lines += 1
    result["parse_s"] = time.perf_counter() - started
    result["lines"] = lines - 1
    result["parse_peak_mb"] = _peak_mb()

    config = Config.from_mapping({"retrieval": {"embedder": "hashing"}}, data_dir=home, env={})
    with Athena.open(config=config) as athena:
        athena.store.embed(["warm up"])
        result["before_mb"] = memory_mb().get("rss_mb", 0.0)
        result["peak_reset"] = _reset_peak()
        passes: dict[str, float] = {}
        clock = {"at": time.perf_counter()}

        def phase(name: str) -> Progress:
            shown = Progress(f"{name} {result['lines']:,} lines")

            def report(done: int, total: int) -> None:
                shown(done, total)
                if done >= total and name not in passes:
                    now = time.perf_counter()
                    passes[name] = now - clock["at"]
                    clock["at"] = now
            return report  # type: ignore[return-value]

        started = clock["at"] = time.perf_counter()
        with path.open("rb") as source:
            report = import_jsonl(athena, source, progress=phase)
        result["import_s"] = time.perf_counter() - started
        result["passes_s"] = passes
        result["imported"] = report.imported
        result["peak_mb"] = _peak_mb()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000",
                        help="comma-separated numbers of lines (default 1000000)")
    parser.add_argument("--workdir", type=Path, help="where files and stores go")
    parser.add_argument("--keep", action="store_true", help="keep files and stores")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]))))
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="athena-import-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            path = workdir / f"export-{size}.jsonl"
            Workload().write_export(path, size, Progress(f"generating {size:,} lines"))
            home = workdir / f"store-{size}"
            shutil.rmtree(home, ignore_errors=True)
            done = subprocess.run([sys.executable, __file__, "--child", str(path), str(home)],
                                  stdout=subprocess.PIPE, text=True, check=True)
            result = json.loads(done.stdout.splitlines()[-1])
            results.append(result)
            note(f"{result['lines']:>10,} lines {result['file_mb']:8.1f} MiB  "
                 f"parse {result['parse_s']:7.1f} s  import {result['import_s']:8.1f} s "
                 f"({result['lines'] / result['import_s']:,.0f} lines/s; "
                 + ", ".join(f"{k} {v:.1f} s" for k, v in result["passes_s"].items())
                 + f")  RSS before {result['before_mb']:.0f} MiB, peak "
                 f"{result['peak_mb']:.0f} MiB (+{result['peak_mb'] - result['before_mb']:.0f}"
                 f"; parse baseline peak {result['parse_peak_mb']:.0f} MiB)")
            if not args.keep:
                path.unlink()
                shutil.rmtree(home, ignore_errors=True)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
