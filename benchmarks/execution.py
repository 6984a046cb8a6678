"""The execution benchmarks: what ``Athena.execute`` adds to running a program, and
what one ``athena`` call from inside the sandbox costs.

For every executor installed and usable here (``bwrap``, ``restrictedpython``,
``srt``; the others are reported as skipped, with the reason), on fresh data dirs
with the default config (the executor it chooses itself is not configured; the
others are set with ``[execution] executor``):

- **cold**: ``Athena.execute("pass")`` with ``pool_size = 0`` (a sandbox is started
  for the call), interleaved with ``python -c pass`` (same interpreter) and, for
  bubblewrap, the sandboxed worker alone (started, booted, exiting without a program);
- **warm** (executors with a pool): the default ``pool_size = 2``, waiting before
  each call until the pool is full, next to ``supervise()`` on a pre-started
  *unsandboxed* stock worker (the protocol floor) and a durable ``sqlite3`` commit;
  a diagnostic variant holds the pool refill back until the call returned;
- **bridge**: programs calling ``athena.get(id)`` or ``athena.bench.echo("x")`` (a
  benchmark plugin's operation that does nothing) N times, timing each call inside
  the sandbox, next to the same operation called on the host and a raw JSON round
  trip over a socketpair to a plain Python child process.

Where the time of each call goes is measured by wrapping the functions of the
execution path with timers (well under a microsecond each); time other threads
spend in them (the pool's refill) is kept apart as "background".

    python benchmarks/execution.py --home DIR [--warm-runs N] [--cold-runs N]
                                   [--bridge-calls N] [--bridge-rounds N] [--settle-ms MS]

prints one JSON object on stdout (``run.py`` runs it as a child process); progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from timing import note, summary

__all__ = ["EXECUTORS", "measure", "run_child"]

#: Executors measured when installed, in this order (others in the registry follow).
EXECUTORS = ("bwrap", "restrictedpython", "srt")
TRIVIAL = "pass"
POOL_SIZE = 2
_WARMUP = 3
#: The cold loop stops early past this many seconds (slow sandboxes), after _MIN_COLD rounds.
COLD_SECONDS = 6.0
_MIN_COLD = 10
_BRIDGE_WARMUP_CALLS = 20


def run_child(home: Path, *, warm_runs: int, cold_runs: int, bridge_calls: int,
              bridge_rounds: int, settle_ms: float) -> dict[str, Any]:
    """Run this file as a child process (clean ``ATHENA_*`` environment); return its JSON."""
    from core import CLEAN_ENV

    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--home", str(home),
         "--warm-runs", str(warm_runs), "--cold-runs", str(cold_runs),
         "--bridge-calls", str(bridge_calls), "--bridge-rounds", str(bridge_rounds),
         "--settle-ms", str(settle_ms)],
        stdout=subprocess.PIPE, text=True, env=CLEAN_ENV, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"execution benchmarks failed (exit {proc.returncode}); "
                           "see the error above")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# --- instruments ----------------------------------------------------------------------


class Timers:
    """Wraps callables with timers; ``take()`` returns and resets the seconds per label."""

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []
        self._home = threading.get_ident()

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        if owner is None or not hasattr(owner, attribute):
            return
        original = getattr(owner, attribute)
        had_own = isinstance(owner, type) or attribute in getattr(owner, "__dict__", {})
        spent, home, clock = self._spent, self._home, time.perf_counter
        elsewhere = f"background: {label}"

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                # Calls from other threads (the pool's refill) overlap the call: kept apart.
                key = label if threading.get_ident() == home else elsewhere
                spent[key] = spent.get(key, 0.0) + clock() - started

        setattr(owner, attribute, timed)
        if had_own:
            self._undo.append(lambda: setattr(owner, attribute, original))
        else:  # a bound method shadowed on an instance: drop the shadow
            self._undo.append(lambda: delattr(owner, attribute))

    def take(self) -> dict[str, float]:
        out = dict(self._spent)
        self._spent.clear()  # in place: the wrappers hold this dict
        return out

    def close(self) -> None:
        while self._undo:
            self._undo.pop()()


def _instrument(athena: Any, executor: Any) -> Timers:
    """Timers on every step of ``ExecutionService.run`` and of the executor's ``run``."""
    from athena_core.execution import runner, supervisor

    timers = Timers()
    service = athena.execution
    module = sys.modules.get(type(executor).__module__)
    timers.wrap(service, "executor", "choose executor")
    timers.wrap(executor, "refusals", "executor refusals (policy check)")
    timers.wrap(runner, "check_python", "static checks")
    timers.wrap(runner, "BridgeHost", "bridge set-up")
    timers.wrap(executor, "run", "executor.run")
    timers.wrap(module, "operation_specs", "operation list")
    timers.wrap(executor, "_take", "take a pooled worker")
    if hasattr(executor, "_start"):
        timers.wrap(executor, "_start", "start a sandboxed worker")
    else:
        timers.wrap(module, "start_worker", "start a sandboxed worker")
    timers.wrap(module, "supervise", "supervise")
    timers.wrap(supervisor, "_reap", "reap")
    timers.wrap(supervisor.Worker, "close", "close")
    timers.wrap(executor, "_refill_async", "refill hand-off")
    timers.wrap(service, "_finish", "finish")
    timers.wrap(type(athena.audit), "record_execution", "audit record")  # slotted: the class
    return timers


#: Breakdown rows, in order: (row label, how it is computed from the timers).
PARTS: tuple[tuple[str, str], ...] = (
    ("choose executor (ExecutionService.executor)", "choose executor"),
    ("executor.refusals (policy paths)", "executor refusals (policy check)"),
    ("static checks (check_python)", "static checks"),
    ("bridge set-up (BridgeHost)", "bridge set-up"),
    ("operation list for the worker (operation_specs)", "operation list"),
    ("take a pooled worker", "take a pooled worker"),
    ("start a sandboxed worker", "start a sandboxed worker"),
    ("supervise: run frame to result, kill, reap", "supervise"),
    ("of which: kill, reap and close the worker", "teardown"),
    ("refill hand-off to the pool thread", "refill hand-off"),
    ("rest of executor.run", "run rest"),
    ("audit record (hash chain, insert, commit)", "audit record"),
    ("after_execute hook and the rest of _finish", "finish rest"),
    ("rest of Athena.execute", "execute rest"),
    ("background: pool thread starts a worker", "background: start a sandboxed worker"),
)


def _parts(spent: dict[str, float], total: float) -> dict[str, float]:
    """Non-overlapping parts of one call (plus the teardown share of supervise)."""
    get = spent.get
    out = dict(spent)
    out["teardown"] = get("reap", 0.0) + get("close", 0.0)
    inner = sum(get(k, 0.0) for k in ("operation list", "take a pooled worker",
                                      "start a sandboxed worker", "supervise",
                                      "refill hand-off"))
    out["run rest"] = get("executor.run", 0.0) - inner
    out["finish rest"] = get("finish", 0.0) - get("audit record", 0.0)
    outer = sum(get(k, 0.0) for k in ("choose executor", "executor refusals (policy check)",
                                      "static checks", "bridge set-up", "executor.run",
                                      "finish"))
    out["execute rest"] = total - outer
    return out


def _summaries(rows: list[dict[str, float]]) -> dict[str, Any]:
    labels = [key for _, key in PARTS]
    return {key: summary([row[key] for row in rows if key in row]) for key in labels
            if any(key in row for row in rows)}


# --- helpers ----------------------------------------------------------------------------


def _open(home: Path, plugins: tuple[object, ...] = (), **execution: Any) -> Any:
    """An Athena instance on ``home`` with the default config, ``execution`` overridden."""
    from athena_core import Athena
    from athena_core.config import Config

    home.mkdir(parents=True, exist_ok=True)
    config = Config.from_mapping({"execution": execution}, data_dir=home.resolve(), env={})
    return Athena.open(home, config=config, plugins=plugins)


def _echo_plugin() -> object:
    """A plugin adding ``bench.echo(text)``: an operation that does no work at all."""
    import types

    from athena_core.api import operation
    from athena_core.hookspecs import hookimpl

    @operation(permissions="read")
    def echo(athena: Any, text: str) -> str:
        """Return ``text``."""
        return text

    @hookimpl
    def athena_register_api(register: Any) -> None:
        register("bench.echo", echo)

    plugin = types.ModuleType("athena_benchmark_echo")
    plugin.athena_register_api = athena_register_api  # type: ignore[attr-defined]
    return plugin


def _pool_ready(executor: Any, settle: float) -> int:
    """Sleep ``settle`` s, then wait until the pool is full again; return extra 10 ms waits."""
    time.sleep(settle)
    pool = getattr(executor, "_pool", None)
    if pool is None:
        return 0
    waits = 0
    while len(pool) < POOL_SIZE and waits < 500:
        time.sleep(0.01)
        waits += 1
    if waits:  # the newest worker was only just started: give it the usual head start
        time.sleep(settle)
    return waits


def _worker_path() -> str:
    import athena_core.sandbox_client

    return str(Path(athena_core.sandbox_client.__file__).parent / "worker.py")


def _plain_worker() -> Any:
    """The stock worker, unsandboxed, started as executors start it."""
    from athena_core.execution.supervisor import start_worker

    return start_worker([sys.executable, "-I", "-B", _worker_path()],
                        env={"PATH": "/usr/bin:/bin"})


def _floor(athena: Any, worker: Any) -> float:
    """``supervise()`` of the trivial program on a pre-started unsandboxed worker."""
    from athena_core import _ids
    from athena_core.execution.bridge import BridgeHost, operation_specs
    from athena_core.execution.model import ExecutionRequest
    from athena_core.execution.supervisor import supervise

    request = ExecutionRequest(id=_ids.new_id(), code=TRIVIAL, language="python",
                               policy=athena.execution.policy(None), scope="default")
    bridge = BridgeHost(athena.api, request)
    operations = operation_specs(athena.api, request)
    started = time.perf_counter()
    result = supervise(worker, request, bridge, executor="none", operations=operations)
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"unsandboxed worker failed: {result.status} {result.error}")
    return elapsed


def _execute(athena: Any, code: str, timers: Timers | None = None
             ) -> tuple[float, Any, dict[str, float]]:
    if timers is not None:
        timers.take()
    started = time.perf_counter()
    result = athena.execute(code)
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"Athena.execute failed: {result.status} {result.error} "
                           f"{result.stderr[-2000:]}")
    spent = timers.take() if timers is not None else {}
    return elapsed, result, _parts(spent, elapsed)


class _RawCommit:
    """``sqlite3`` INSERT + COMMIT of a short row, WAL, ``synchronous=FULL``: the durable
    write every recorded execution pays, without Athena (a file next to the store)."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        self._db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL"):
            self._db.execute(pragma)
        self._db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, text TEXT)")

    def __call__(self) -> float:
        started = time.perf_counter()
        self._db.execute("BEGIN")
        self._db.execute("INSERT INTO t (text) VALUES (?)",
                         (f"Ran a python program: ok\n{TRIVIAL}",))
        self._db.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self._db.close()


def _python_pass() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def _sandbox_alone(executor: Any, policy: Any) -> float:
    """Start a sandboxed worker and let it exit on a closed bridge (no program run)."""
    started = time.perf_counter()
    worker = executor._start(policy)
    worker.sock.close()  # the worker's first read fails and it exits
    worker.process.wait()
    elapsed = time.perf_counter() - started
    worker.close()
    return elapsed


# --- the measurements ---------------------------------------------------------------------


def cold(home: Path, chosen: dict[str, str], runs: int) -> dict[str, Any]:
    """``pool_size = 0``: a sandbox is started for every call."""
    athena = _open(home, **chosen, pool_size=0)
    try:
        executor = athena.execution.executor()
        policy = athena.execution.policy(None)
        steps: dict[str, Callable[[], float]] = {"baseline": _python_pass}
        if hasattr(executor, "_start"):
            steps["sandbox_alone"] = lambda: _sandbox_alone(executor, policy)
        timers = _instrument(athena, executor)
        parts: list[dict[str, float]] = []
        durations: list[float] = []

        def execute() -> float:
            elapsed, result, spent = _execute(athena, TRIVIAL, timers)
            parts.append(spent)
            durations.append(result.duration_s)
            return elapsed

        steps["execute"] = execute
        samples: dict[str, list[float]] = {key: [] for key in steps}
        names = list(steps)
        began = time.perf_counter()
        for round_ in range(runs + _WARMUP):
            if (round_ >= _WARMUP + _MIN_COLD
                    and time.perf_counter() - began > COLD_SECONDS):
                break
            order = names[round_ % len(names):] + names[:round_ % len(names)]
            for key in order:
                elapsed = steps[key]()
                if round_ >= _WARMUP:
                    samples[key].append(elapsed)
            if round_ < _WARMUP:
                parts.clear()
                durations.clear()
        timers.close()
        return {"execute": summary(samples["execute"]), "baseline": summary(samples["baseline"]),
                "sandbox_alone": summary(samples.get("sandbox_alone", [])),
                "result_duration": summary(durations), "parts": _summaries(parts)}
    finally:
        athena.close()


def warm(athena: Any, runs: int, settle: float) -> dict[str, Any]:
    """The default ``pool_size = 2``: the call takes a pre-started worker.

    Executors with a refill thread are also measured with the refill held back
    until the call has returned (a diagnostic: what the refill running beside the
    rest of the call costs it), in alternating order with the normal calls.
    """
    executor = athena.execution.executor()
    for _ in range(_WARMUP):  # the first call starts the pool
        _execute(athena, TRIVIAL)
        _pool_ready(executor, settle)
    timers = _instrument(athena, executor)
    deferrable = "_refill_async" in vars(executor)  # the timer wrapper set by _instrument
    execute, deferred, floor, durations, parts, deferred_parts = [], [], [], [], [], []
    commits: list[float] = []
    raw_commit = _RawCommit(athena.config.data_dir / "raw-commit.db")
    waits = 0

    def normal() -> None:
        elapsed, result, spent = _execute(athena, TRIVIAL, timers)
        execute.append(elapsed)
        durations.append(result.duration_s)
        parts.append(spent)

    def held_back() -> None:
        refill, held = executor._refill_async, []
        executor._refill_async = held.append
        try:
            elapsed, _, spent = _execute(athena, TRIVIAL, timers)
        finally:
            executor._refill_async = refill
        for policy in held:  # after the clock stopped
            refill(policy)
        deferred.append(elapsed)
        deferred_parts.append(spent)

    try:
        for i in range(runs):
            plain = _plain_worker()  # boots while the pool settles
            waits += _pool_ready(executor, settle)
            # Baselines first: a call starts a refill, which would run beside them.
            commits.append(raw_commit())
            floor.append(_floor(athena, plain))
            steps = [normal, held_back] if deferrable else [normal]
            for k, step in enumerate(steps[i % len(steps):] + steps[:i % len(steps)]):
                if k:
                    waits += _pool_ready(executor, settle)
                step()
    finally:
        timers.close()
        raw_commit.close()
    return {"pooled": True, "execute": summary(execute), "raw_commit": summary(commits),
            "floor": summary(floor), "result_duration": summary(durations),
            "parts": _summaries(parts), "deferred_refill": summary(deferred),
            "deferred_refill_parts": _summaries(deferred_parts), "extra_waits_10ms": waits}


_RAW_CLIENT = r"""
import json, socket, struct, sys, time
sock = socket.socket(fileno=0)  # the bridge, as start_worker passes it
header = struct.Struct(">I")
def exactly(size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise SystemExit(1)
        data += chunk
    return data
calls, memory_id = int(sys.argv[1]), sys.argv[2]
perf, samples = time.perf_counter, []
for i in range(calls):
    started = perf()
    body = json.dumps({"type": "call", "id": i + 1, "op": "get", "args": [memory_id],
                       "kwargs": {}}, separators=(",", ":")).encode()
    sock.sendall(header.pack(len(body)) + body)
    (size,) = header.unpack(exactly(4))
    json.loads(exactly(size))
    samples.append(perf() - started)
print(json.dumps(samples))
"""


def _raw_round_trips(calls: int, memory_id: str, reply: bytes) -> list[float]:
    """A plain Python child sends ``calls`` JSON frames; the host answers each with ``reply``."""
    from athena_core.execution.supervisor import start_worker

    worker = start_worker([sys.executable, "-I", "-c", _RAW_CLIENT, str(calls), memory_id],
                          env={"PATH": "/usr/bin:/bin"})
    header = struct.Struct(">I")
    sock = worker.sock

    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise RuntimeError("raw round-trip client went away")
            data += chunk
        return data

    try:
        for _ in range(calls):
            (size,) = header.unpack(exactly(4))
            json.loads(exactly(size))
            sock.sendall(reply)
        assert worker.process.stdout is not None
        out = worker.process.stdout.read()
    finally:
        worker.close()
    return json.loads(out)  # type: ignore[no-any-return]


_BRIDGE_PROGRAM = """
import athena
try:
    from time import perf_counter as clock
    name = "time.perf_counter"
except ImportError:  # executors that refuse `time` (restrictedpython) allow datetime
    from datetime import datetime

    def clock():
        return datetime.now().timestamp()
    name = "datetime.now (1 us resolution)"
samples = []
for _ in range({calls}):
    started = clock()
    {call}
    samples.append(clock() - started)
{{"clock": name, "samples": samples}}
"""


def bridge(athena: Any, calls: int, rounds: int) -> dict[str, Any]:
    """Per-call time inside the sandbox of ``athena.get(id)`` and of ``bench.echo``,
    next to the same operation on the host and a raw JSON round trip."""
    from athena_core.execution.bridge import to_jsonable
    from athena_core.sandbox_client import frames

    memory_id = athena.remember("The bridge benchmark reads this memory back.",
                                metadata={"source": "benchmark"})
    scope = athena.config.memory.default_scope
    operation = athena.api.get("get")
    reply = frames.encode({"type": "reply", "id": 1, "ok": True,
                           "value": to_jsonable(athena.get(memory_id))})
    limit = athena.execution.policy(None).limits.api_calls
    policy = None if calls <= limit else {"extends": "strict", "limits": {"api_calls": calls}}
    skip = _BRIDGE_WARMUP_CALLS
    clocks: set[str] = set()
    programs: dict[str, list[float]] = {"get": [], "echo": []}

    def sandbox(op: str, call: str) -> tuple[list[float], list[float]]:
        program = _BRIDGE_PROGRAM.format(calls=calls, call=call)
        started = time.perf_counter()
        result = athena.execute(program, policy=policy)
        programs[op].append(time.perf_counter() - started)
        if not result.ok:
            raise RuntimeError(f"bridge program failed: {result.status} {result.error}")
        clocks.add(result.value["clock"])
        host = [call.duration_ms / 1e3 for call in result.bridge_calls]
        return result.value["samples"][skip:], host[skip:]

    def host(function: Callable[[], Any]) -> list[float]:
        out = []
        for _ in range(calls):
            started = time.perf_counter()
            function()
            out.append(time.perf_counter() - started)
        return out[skip:]

    samples: dict[str, list[float]] = {key: [] for key in (
        "get", "get_host_side", "echo", "echo_host_side", "direct", "operation", "raw")}
    steps = ["get", "echo", "direct", "operation", "raw"]
    for round_ in range(rounds):
        for step in steps[round_ % len(steps):] + steps[:round_ % len(steps)]:
            if step == "get":
                inside, host_side = sandbox("get", f"athena.get({memory_id!r})")
            elif step == "echo":
                inside, host_side = sandbox("echo", "athena.bench.echo('x')")
            elif step == "direct":
                samples["direct"] += host(lambda: athena.get(memory_id))
                continue
            elif step == "operation":
                samples["operation"] += host(
                    lambda: to_jsonable(operation(memory_id, scope=scope)))
                continue
            else:
                samples["raw"] += _raw_round_trips(calls, memory_id, reply)[skip:]
                continue
            samples[step] += inside
            samples[f"{step}_host_side"] += host_side
            time.sleep(0.1)  # let the pool refill after the program
    return {**{key: summary(values) for key, values in samples.items()},
            "programs": {key: summary(values) for key, values in programs.items()},
            "calls": calls, "rounds": rounds, "clock": ", ".join(sorted(clocks)),
            "reply_bytes": len(reply), "policy": "strict" if policy is None else policy}


# --- entry points ---------------------------------------------------------------------------


def _available(athena: Any) -> tuple[list[str], dict[str, str]]:
    """Executors to measure, and why the others are skipped."""
    from athena_core.errors import SandboxUnavailableError

    registry = athena.plugins.registry("executor")
    names = [*EXECUTORS, *(n for n in registry.names() if n not in EXECUTORS)]
    usable, skipped = [], {}
    for name in names:
        if name not in registry:
            skipped[name] = "not installed (no plugin registers it)"
            continue
        try:
            athena.execution.executor(name)
        except SandboxUnavailableError as exc:
            skipped[name] = str(exc)
            continue
        usable.append(name)
    return usable, skipped


@contextlib.contextmanager
def _step(label: str) -> Iterator[None]:
    started = time.perf_counter()
    note(f"  {label} ...")
    yield
    note(f"  {label}: {time.perf_counter() - started:.1f} s")


def measure(home: Path, *, warm_runs: int, cold_runs: int, bridge_calls: int,
            bridge_rounds: int, settle_ms: float) -> dict[str, Any]:
    settle = settle_ms / 1000
    probe = _open(home / "probe")
    try:
        usable, skipped = _available(probe)
        automatic = probe.execution.executor().name if usable else None
    finally:
        probe.close()
    out: dict[str, Any] = {"settings": {
        "warm_runs": warm_runs, "cold_runs": cold_runs, "bridge_calls": bridge_calls,
        "bridge_rounds": bridge_rounds, "settle_ms": settle_ms, "program": TRIVIAL,
        "warm_pool_size": POOL_SIZE, "bridge_warmup_calls": _BRIDGE_WARMUP_CALLS,
        "cold_seconds": COLD_SECONDS,
        "bwrap": shutil.which("bwrap"), "automatic_choice": automatic},
        "executors": {}, "skipped": skipped}
    for name in usable:
        note(f"executor {name}")
        # The default config chooses one executor itself; the others are configured.
        chosen = {} if name == automatic else {"executor": name}
        data: dict[str, Any] = {"config": chosen}
        with _step(f"{name}: cold, {cold_runs} rounds"):
            data["cold"] = cold(home / f"{name}-cold", chosen, cold_runs)
        athena = _open(home / f"{name}-warm", **chosen, pool_size=POOL_SIZE)
        try:
            if hasattr(athena.execution.executor(), "prewarm"):
                with _step(f"{name}: warm, {warm_runs} calls"):
                    data["warm"] = warm(athena, warm_runs, settle)
            else:  # no pool: every call starts its sandbox, as measured by `cold`
                data["warm"] = {"pooled": False}
        finally:
            athena.close()
        athena = _open(home / f"{name}-bridge", plugins=(_echo_plugin(),), **chosen,
                       pool_size=POOL_SIZE)
        try:
            with _step(f"{name}: bridge, {bridge_rounds} x 2 x {bridge_calls} calls"):
                data["bridge"] = bridge(athena, bridge_calls, bridge_rounds)
        finally:
            athena.close()
        out["executors"][name] = data
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--warm-runs", type=int, default=60)
    parser.add_argument("--cold-runs", type=int, default=30)
    parser.add_argument("--bridge-calls", type=int, default=1000)
    parser.add_argument("--bridge-rounds", type=int, default=3)
    parser.add_argument("--settle-ms", type=float, default=100.0)
    args = parser.parse_args(argv)
    if args.bridge_calls <= _BRIDGE_WARMUP_CALLS:
        parser.error(f"--bridge-calls must be more than {_BRIDGE_WARMUP_CALLS}")
    result = measure(args.home, warm_runs=args.warm_runs, cold_runs=args.cold_runs,
                     bridge_calls=args.bridge_calls, bridge_rounds=args.bridge_rounds,
                     settle_ms=args.settle_ms)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
