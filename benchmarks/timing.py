"""Small measurement helpers: sample summaries, process memory, machine facts, progress."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Progress", "machine", "memory_mb", "output", "publish", "summary"]


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(seconds: Sequence[float]) -> dict[str, Any]:
    """Best, p50, p95, p99, mean and worst of samples given in seconds, as milliseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {"n": 0}
    ms = 1000.0
    return {"n": len(ordered),
            "best_ms": ordered[0] * ms,
            "p50_ms": _percentile(ordered, 50) * ms,
            "p95_ms": _percentile(ordered, 95) * ms,
            "p99_ms": _percentile(ordered, 99) * ms,
            "mean_ms": sum(ordered) / len(ordered) * ms,
            "max_ms": ordered[-1] * ms}


def memory_mb() -> dict[str, float]:
    """Resident set size now and at its peak (VmRSS, VmHWM), in MiB."""
    values: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = \
                        int(rest.split()[0]) / 1024
    except OSError:
        pass
    return values


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _filesystem(path: Path) -> str:
    """Filesystem type of the mount holding ``path`` (from /proc/mounts)."""
    best, kind = "", "unknown"
    resolved = str(path.resolve())
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1]
                inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
                if inside and len(point) > len(best):
                    best, kind = point, fields[2]
    except OSError:
        pass
    return kind


def machine(workdir: Path) -> dict[str, Any]:
    import numpy
    import sqlalchemy

    total_mb = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            total_mb = int(meminfo.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"nproc": os.cpu_count(), "cpu_model": _cpu_model(),
            "memory_mb": total_mb, "kernel": platform.release(),
            "python": platform.python_version(), "python_executable": sys.executable,
            "sqlite": sqlite3.sqlite_version, "numpy": numpy.__version__,
            "sqlalchemy": sqlalchemy.__version__, "workdir_filesystem": _filesystem(workdir),
            "load_average_at_start": [round(x, 2) for x in load] if load else None}


class Progress:
    """One updating line on stderr per long step (plain lines when not a terminal)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last = -1.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        finished = done >= total
        if not finished and now - self._last < (0.2 if self.tty else 5.0):
            return
        self._last = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        line = f"  {self.label}: {done:,}/{total:,} ({rate:,.0f}/s, {elapsed:.0f} s)"
        if self.tty:
            sys.stderr.write("\r" + line + ("\n" if finished else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def note(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def output(results: dict[str, Any], render: Callable[[dict[str, Any]], str],
           json_arg: str | None) -> None:
    """What ``--json`` asks: ``-`` JSON on stdout and no table; a file name: the table,
    and JSON in that file; nothing: the table."""
    if json_arg == "-":
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print(render(results))
    if json_arg:
        Path(json_arg).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        note(f"results written to {json_arg}")


def publish(result: dict[str, Any], table: str, json_path: str | None) -> None:
    """Print the table of a run; with ``--json FILE``, also write its results there."""
    print(table)
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
