"""Soak: ``athena serve --http`` under eight MCP clients, a reindex and a kill -9.

A fresh data dir gets eight HTTP clients (``[mcp.clients.NAME]``, each token bound
to one of four scopes). ``athena serve --http`` serves it on 127.0.0.1, and the
clients - the ``mcp`` SDK's own streamable-HTTP client - run a mixed workload for
``--duration`` seconds: remember, recall, run_code (a short sandboxed program that
remembers and recalls through ``athena``), forget, and export (the scope's facts,
page by page). A quarter of the way in, ``athena reindex`` runs in another process;
half way, the server is killed with SIGKILL and started again on the same port and
data dir, and the clients reconnect and go on.

It reports operations per second, p50/p95 per operation, errors by type,
acknowledged writes lost (every memory whose ``remember`` returned an id and that
was not forgotten must be in the store at the end: checked by opening the data dir
with the host API after the server stopped), acknowledged forgets undone, results
from another scope (every memory carries its scope in its text and metadata; every
recall hit, exported fact and program result is checked), and the server's resident
memory (VmRSS from /proc, every ``--rss-every`` seconds) with a verdict: flat when,
in each life of the server, the mean of the last third of the samples is within
``--rss-tolerance`` of the mean of the middle third (the first third is warm-up).

Calls in flight when the server is killed, and calls made on a session of the killed
server, are counted as *unacknowledged*, not as errors: their writes may or may not
have happened, and they are left out of the lost-write check.

    python benchmarks/soak.py                          # ten minutes, the table
    python benchmarks/soak.py --duration 60 --json     # one minute, JSON on stdout
    python benchmarks/soak.py --json soak.json         # the table, plus JSON in a file
    python benchmarks/soak.py --mode code              # every operation as a run_code program

Loopback only: nothing listens or connects beyond 127.0.0.1. The store stays bounded
(each client keeps at most ``--live-cap`` memories, forgetting its oldest), and so
does the run (``--duration``, ``--max-ops``). Exit status: 1 when an acknowledged
write was lost or altered, an acknowledged forget undone or a result came from another
scope; 2 when the server could not be started. Needs the athena-bwrap plugin and
bubblewrap for the programs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
from timing import machine, note, publish, summary
from workload import Workload

__all__ = ["main", "run"]

SCOPES = ("soak:north", "soak:south", "soak:east", "soak:west")
#: Operation mix: share of the calls of each kind.
MIX = {"remember": 0.30, "recall": 0.30, "run_code": 0.10, "forget": 0.15, "export": 0.15}
#: Errors expected from the kill -9: the call's outcome is unknown, not wrong.
UNACKNOWLEDGED = "unacknowledged"
#: Pages of 100 facts an export reads at most.
EXPORT_PAGES = 3

_PROGRAM = """\
import athena
mid = athena.remember({text!r}, metadata={metadata!r})
hits = athena.recall({query!r}, k=5)
{{"id": mid, "found": [[h.id, h.scope, h.metadata.get("soak_scope")] for h in hits]}}
"""


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _child_env() -> dict[str, str]:
    """This environment without ATHENA_* (they would change what is measured)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ATHENA_")}


def _athena(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "athena_core.cli", *arguments]


def _descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid``, each with its start time (to tell a reused pid)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
            starts[int(entry.name)] = fields[19]
    found: dict[int, str] = {}
    todo = list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        found[child] = starts.get(child, "")
        todo.extend(parents.get(child, []))
    return found


def _alive(processes: dict[int, str]) -> dict[int, str]:
    """Those of ``processes`` still running (same pid, same start time)."""
    alive: dict[int, str] = {}
    for pid, start in processes.items():
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if fields[19] == start and fields[0] != "Z":
                alive[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
    return alive


def _rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Server:
    """``athena serve --http 127.0.0.1:PORT`` on a data dir; started, killed, restarted."""

    def __init__(self, home: Path, port: int, *, classic: bool) -> None:
        self.home, self.port, self.classic = home, port, classic
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.process: subprocess.Popen[bytes] | None = None
        self.lives = 0
        self.log = home.parent / "server.log"

    def start(self, timeout: float = 90) -> float:
        """Start it and wait until its port accepts connections; the seconds that took."""
        started = time.perf_counter()
        self.lives += 1
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"--- life {self.lives}\n")
            log.flush()
            self.process = subprocess.Popen(
                _athena("serve", "--home", str(self.home), "--http", f"127.0.0.1:{self.port}",
                        *(["--classic"] if self.classic else [])),
                env=_child_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        while True:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=1):
                return time.perf_counter() - started
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start; see {self.log}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"the server did not open its port in {timeout:.0f} s")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> dict[int, str]:
        """SIGKILL, as a crash would; the processes it had started (pid: start time)."""
        assert self.process is not None
        below = _descendants(self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return below

    def messages(self) -> list[str]:
        """What the server wrote to its log besides its start banner, each line once."""
        banner = ("--- life ", "Athena MCP server at ", "clients: ")
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return list(dict.fromkeys(line for line in lines
                                  if line.strip() and not line.startswith(banner)))

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after 30 s); its exit status."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def make_home(home: Path, clients: int, *, classic: bool) -> dict[str, tuple[str, str]]:
    """A fresh data dir with ``clients`` HTTP clients; ``{name: (token, scope)}``.

    The hashing embedder (built in, nothing to download). In classic mode the clients'
    policy adds ``execute``, which offers the ``execute`` tool: a program run as
    ``run_code`` runs it.
    """
    from athena_core.config import CONFIG_FILENAME
    from athena_core.mcp.clients import add_client

    home.mkdir(mode=0o700, parents=True)
    path = home / CONFIG_FILENAME
    path.write_text('[retrieval]\nembedder = "hashing"\n\n'
                    '[policies.soak]\nextends = "strict"\n'
                    'permissions = ["read", "write", "delete", "execute"]\n', encoding="utf-8")
    made: dict[str, tuple[str, str]] = {}
    for number in range(clients):
        name, scope = f"soak-{number}", SCOPES[number % len(SCOPES)]
        made[name] = (add_client(path, name, scope=scope,
                                 policy="soak" if classic else ""), scope)
    return made


# --- what the clients saw ---------------------------------------------------------------------


@attrs.define
class Ledger:
    """Every call, the writes acknowledged to the clients, and what came from another scope."""

    #: (operation, seconds) of each call that succeeded under load.
    latencies: list[tuple[str, float]] = attrs.Factory(list)
    #: The same, of one client alone before the load: the baseline.
    baseline: list[tuple[str, float]] = attrs.Factory(list)
    #: (operation, error type, seconds into the load) of each call that failed.
    errors: list[tuple[str, str, float]] = attrs.Factory(list)
    #: id -> scope of each memory whose remember returned its id.
    written: dict[str, str] = attrs.Factory(dict)
    #: ids whose forget succeeded.
    forgotten: set[str] = attrs.Factory(set)
    #: ids whose forget failed or went unacknowledged: present or not, both are fine.
    uncertain: set[str] = attrs.Factory(set)
    #: (operation, client's scope, the result's scope, id): results from another scope.
    foreign: list[tuple[str, str, str, str]] = attrs.Factory(list)
    #: calls that succeeded, by server life.
    ok_by_life: Counter[int] = attrs.Factory(Counter)
    #: sessions opened, and connection attempts that failed (while the server was down).
    connects: int = 0
    failed_connects: int = 0
    #: Seconds into the load, for the errors.
    clock: Callable[[], float] = time.perf_counter

    def error(self, operation: str, kind: str) -> None:
        self.errors.append((operation, kind, self.clock()))

    def check(self, operation: str, scope: str, items: list[tuple[str, str | None, Any]]) -> None:
        """Record each ``(id, scope, metadata scope)`` of a result that is not ``scope``'s."""
        for memory_id, item_scope, tagged in items:
            owner = self.written.get(memory_id, scope)
            if item_scope != scope or tagged != scope or owner != scope:
                self.foreign.append((operation, scope, f"{item_scope}/{tagged}/{owner}",
                                     memory_id))

    def checker(self, operation: str, scope: str) -> Callable[[Any, bool], None]:
        """What to do with a result listing memories: :meth:`check` them, if it came."""
        def settle(value: Any, ok: bool) -> None:
            if ok:
                self.check(operation, scope, _items(value))
        return settle


def _items(value: Any) -> list[tuple[str, str | None, Any]]:
    """``(id, scope, metadata soak_scope)`` of each memory in a list of hits or facts."""
    if not isinstance(value, list):
        return []
    return [(str(item.get("id")), item.get("scope"), (item.get("metadata") or {}).get(
        "soak_scope")) for item in value if isinstance(item, dict)]


class _Failed(Exception):
    """A tool call answered with an error result."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


# --- the clients ------------------------------------------------------------------------------


@attrs.define
class Client:
    """One MCP client: its token, its scope and its own random stream."""

    name: str
    token: str
    scope: str
    rnd: random.Random
    #: Ids it remembered and has not forgotten yet, oldest first.
    live: list[str] = attrs.Factory(list)
    serial: int = 0

    def text(self, workload: Workload) -> tuple[str, dict[str, Any]]:
        """A new memory's text and metadata, both naming the scope."""
        self.serial += 1
        return (f"{workload.sentence(self.rnd)} [{self.scope}]",
                {"soak_scope": self.scope, "client": self.name, "n": self.serial})

    def query(self, workload: Workload) -> str:
        words = workload.sentence(self.rnd).rstrip(".").lower().split()
        return " ".join(words[:self.rnd.randint(3, 6)])


class Soak:
    """The workload: clients, the reindex, the kill, the RSS samples."""

    def __init__(self, server: Server, clients: list[Client], args: argparse.Namespace) -> None:
        self.server, self.clients, self.args = server, clients, args
        self.workload = Workload(seed=args.seed)
        self.ledger = Ledger(clock=self.elapsed)
        self.classic = args.mode == "classic"
        #: Bumped at the kill: a session of an older generation talks to a dead server.
        self.generation = 1
        self.ops = 0
        self.started = 0.0
        self.deadline = 0.0
        self.rss: list[tuple[float, int, float]] = []  # (seconds, life, MiB)
        self.events: dict[str, Any] = {}

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def stopping(self) -> bool:
        return time.perf_counter() >= self.deadline or self.ops >= self.args.max_ops

    async def run(self) -> None:
        import anyio

        await self._baseline()
        self.started = time.perf_counter()
        self.deadline = self.started + self.args.duration
        async with anyio.create_task_group() as tasks:
            for client in self.clients:
                tasks.start_soon(self._client, client)
            tasks.start_soon(self._sample_rss)
            tasks.start_soon(self._reindex)
            tasks.start_soon(self._kill_and_restart)

    async def _baseline(self) -> None:
        """One client alone, each operation in turn: the unloaded latency, same server."""
        client = self.clients[0]
        async with self._session(client) as session:
            self.ledger.connects += 1
            for _ in range(self.args.baseline_calls):
                for operation in MIX:
                    await self._one_call(client, session, self.generation, operation,
                                         self.ledger.baseline)

    # --- events ------------------------------------------------------------------------

    async def _sample_rss(self) -> None:
        import anyio

        while not self.stopping():
            rss = _rss_kb(self.server.pid)
            if rss is not None and self.server.process is not None \
                    and self.server.process.poll() is None:
                self.rss.append((self.elapsed(), self.server.lives, rss / 1024))
            await anyio.sleep(self.args.rss_every)

    async def _reindex(self) -> None:
        import anyio

        await anyio.sleep(self.args.duration * 0.25)
        began = self.elapsed()
        done = await anyio.run_process(
            _athena("reindex", "--home", str(self.server.home), "--json"), check=False,
            env=_child_env())
        report: dict[str, Any] = {"at_s": round(began, 1),
                                  "seconds": round(self.elapsed() - began, 2),
                                  "exit_status": done.returncode}
        with contextlib.suppress(ValueError):
            report.update(json.loads(done.stdout))
        if done.returncode:
            report["stderr"] = done.stderr.decode("utf-8", "replace")[-2000:]
        self.events["reindex"] = report
        note(f"  reindex at {began:.0f} s: exit {done.returncode}, {report['seconds']} s")

    async def _kill_and_restart(self) -> None:
        import anyio

        await anyio.sleep(self.args.duration * 0.5)
        at = self.elapsed()
        self.generation += 1
        below = await anyio.to_thread.run_sync(self.server.kill)
        restart = await anyio.to_thread.run_sync(self.server.start)
        await anyio.sleep(max(0.0, at + 3 - self.elapsed()))  # time to exit with their parent
        survivors = _alive(below)
        self.events["kill"] = {"at_s": round(at, 1), "restart_s": round(restart, 2),
                               "orphans": sorted(set(survivors.values())),
                               "orphan_count": len(survivors)}
        for pid in survivors:  # started by the killed server: ended here, by pid
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        note(f"  kill -9 at {at:.0f} s; serving again after {restart:.1f} s"
             f" ({len(survivors)} of its processes outlived it)")

    # --- one client ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _session(self, client: Client) -> AsyncIterator[Any]:
        import httpx2
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {client.token}"},
                                       timeout=self.args.call_timeout) as http,
                    streamable_http_client(self.server.url, http_client=http) as (read, write),
                    ClientSession(read, write,
                                  read_timeout_seconds=self.args.call_timeout) as session):
            await session.initialize()
            yield session

    async def _client(self, client: Client) -> None:
        import anyio

        while not self.stopping():
            generation = self.generation
            try:
                async with self._session(client) as session:
                    self.ledger.connects += 1
                    while not self.stopping() and await self._one_call(client, session,
                                                                        generation):
                        pass
            except Exception:  # connecting failed (the server is down), or closing did
                self.ledger.failed_connects += 1
                await anyio.sleep(0.2)

    def _choose(self, client: Client, operation: str | None) -> str:
        """``operation``, else a random one; ``remember`` for a forget with nothing to forget."""
        operation = operation or client.rnd.choices(list(MIX), weights=list(MIX.values()))[0]
        if operation == "forget" and not client.live:
            return "remember"
        return operation

    async def _one_call(self, client: Client, session: Any, generation: int,
                        operation: str | None = None,
                        timed: list[tuple[str, float]] | None = None) -> bool:
        """One call of ``operation`` (default: a random one), its time added to ``timed``
        (default: the load's); whether the session can still be used."""
        import anyio

        operation = self._choose(client, operation)
        call, settle = self._prepare(client, operation)
        self.ops += 1
        began = time.perf_counter()
        try:
            with anyio.fail_after(self.args.call_timeout):
                value = await call(session)
        except _Failed as failed:
            self.ledger.error(operation, failed.kind)
            settle(None, False)
            return True
        except Exception as exc:
            unacknowledged = generation != self.generation
            self.ledger.error(operation, UNACKNOWLEDGED if unacknowledged else _error_name(exc))
            settle(None, False)
            return False
        if timed is None:
            timed = self.ledger.latencies
            self.ledger.ok_by_life[self.server.lives] += 1
        timed.append((operation, time.perf_counter() - began))
        try:
            settle(value, True)
        except (KeyError, TypeError, AttributeError) as exc:  # not the result it should be
            self.ledger.error(operation, f"unexpected result ({type(exc).__name__})")
        return True

    def _prepare(self, client: Client, operation: str
                 ) -> tuple[Callable[[Any], Any], Callable[[Any, bool], None]]:
        """The call of ``operation`` for ``client``, and what to note of its outcome."""
        ledger, scope = self.ledger, client.scope
        if operation == "remember":
            text, metadata = client.text(self.workload)

            def remembered(value: Any, ok: bool) -> None:
                if ok:
                    ledger.written[str(value)] = scope
                    client.live.append(str(value))

            return self._operation("remember", {"text": text, "metadata": metadata}), \
                remembered
        if operation == "recall":
            query = client.query(self.workload)
            return self._operation("recall", {"query": query, "k": 10}), \
                ledger.checker("recall", scope)
        if operation == "forget":
            count = 1 if len(client.live) < self.args.live_cap else 4
            ids, client.live[:count] = client.live[:count], []

            def forgot(value: Any, ok: bool) -> None:
                if ok and value == len(ids):
                    ledger.forgotten.update(ids)
                else:
                    ledger.uncertain.update(ids)
                    if ok:
                        ledger.error("forget", f"deleted {value} of {len(ids)}")

            return self._operation("forget", {"ids": ids}), forgot
        if operation == "export":
            return self._export, ledger.checker("export", scope)
        text, metadata = client.text(self.workload)
        code = _PROGRAM.format(text=text, metadata=metadata, query=client.query(self.workload))

        def ran(value: Any, ok: bool) -> None:
            if ok:
                ledger.written[str(value["id"])] = scope
                client.live.append(str(value["id"]))
                ledger.check("run_code", scope, [tuple(hit) for hit in value["found"]])

        return (lambda session: self._program(session, code)), ran

    def _operation(self, name: str, arguments: dict[str, Any]) -> Callable[[Any], Any]:
        """A call of API operation ``name``: its tool (classic) or a program (code mode)."""
        if self.classic:
            async def call(session: Any) -> Any:
                return _result(await session.call_tool(name.replace(".", "_"), arguments),
                               name)["result"]
            return call
        code = (f"import athena, json\nathena.{name}(**json.loads({json.dumps(arguments)!r}))")
        return lambda session: self._program(session, code)

    async def _program(self, session: Any, code: str) -> Any:
        tool = "execute" if self.classic else "run_code"
        return _result(await session.call_tool(tool, {"code": code}), "run_code").get("value")

    async def _export(self, session: Any) -> list[Any]:
        """The scope's facts, a page of 100 at a time (at most EXPORT_PAGES pages)."""
        facts: list[Any] = []
        for page in range(EXPORT_PAGES):
            batch = await self._operation("semantic.facts",
                                          {"limit": 100, "offset": 100 * page})(session)
            facts.extend(batch)
            if len(batch) < 100:
                break
        return facts


def _result(result: Any, operation: str) -> dict[str, Any]:
    """A tool result's structured content; an error result raises :class:`_Failed`."""
    data = result.structured_content or {}
    if result.is_error:
        error = data.get("error") or {}
        kind = error.get("type") if isinstance(error, dict) else None
        status = data.get("status")
        raise _Failed(f"{operation}: {status + ' ' if status else ''}{kind or 'error'}")
    return dict(data)


def _error_name(exc: BaseException) -> str:
    """The type of an exception, or of the first one inside an exception group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    message = getattr(exc, "message", None) or ""
    return f"{type(exc).__name__}{': ' + str(message)[:80] if message else ''}"


# --- the end: the store, and the figures ---------------------------------------------------


def verify(home: Path, ledger: Ledger) -> dict[str, Any]:
    """Open the data dir with the host API (the server stopped) and check every write."""
    from athena_core import Athena
    from athena_core.config import Config
    from athena_core.errors import MemoryNotFoundError

    lost: list[str] = []
    undone: list[str] = []
    mislabelled: list[str] = []
    kept = {i: s for i, s in ledger.written.items()
            if i not in ledger.forgotten and i not in ledger.uncertain}
    gone = {i: ledger.written[i] for i in ledger.forgotten - ledger.uncertain}
    with Athena.open(config=Config.load(home, env={})) as athena:
        for memory_id, scope in kept.items():
            try:
                memory = athena.get(memory_id, scope=scope)
            except MemoryNotFoundError:
                lost.append(memory_id)
                continue
            if memory.metadata.get("soak_scope") != scope or f"[{scope}]" not in memory.text:
                mislabelled.append(memory_id)
        for memory_id, scope in gone.items():
            with contextlib.suppress(MemoryNotFoundError):
                athena.get(memory_id, scope=scope)
                undone.append(memory_id)
        stored = {scope: len(athena.semantic.facts(limit=10_000, scope=scope))
                  for scope in SCOPES}
    return {"acknowledged_writes": len(ledger.written), "checked_present": len(kept),
            "checked_forgotten": len(gone), "uncertain": len(ledger.uncertain),
            "lost_writes": len(lost), "lost_ids": lost[:20],
            "forgets_undone": len(undone), "undone_ids": undone[:20],
            "mislabelled": len(mislabelled), "stored_by_scope": stored}


def rss_verdict(samples: list[tuple[float, int, float]], tolerance: float) -> dict[str, Any]:
    """Per server life: the mean RSS of the middle and last thirds of its samples, their
    ratio, and whether every life stayed flat after warm-up (its first third)."""
    lives: dict[int, list[float]] = {}
    for _, life, mib in samples:
        lives.setdefault(life, []).append(mib)
    report: dict[str, Any] = {"tolerance": tolerance, "lives": {}}
    flat = True
    for life, values in sorted(lives.items()):
        third = len(values) // 3
        if third < 2:
            report["lives"][life] = {"samples": len(values), "verdict": "too few samples"}
            continue
        middle = sum(values[third:2 * third]) / third
        last = sum(values[-third:]) / third
        ratio = last / middle
        flat = flat and ratio <= 1 + tolerance
        report["lives"][life] = {"samples": len(values), "first_mib": round(values[0], 1),
                                 "middle_third_mean_mib": round(middle, 1),
                                 "last_third_mean_mib": round(last, 1),
                                 "peak_mib": round(max(values), 1),
                                 "last_over_middle": round(ratio, 3)}
    report["flat"] = flat
    return report


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak in ``args.workdir`` and return its figures."""
    import anyio

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="athena-soak-"))
    home = workdir / "home"
    classic = args.mode == "classic"
    tokens = make_home(home, args.clients, classic=classic)
    rnd = random.Random(args.seed)
    clients = [Client(name, token, scope, random.Random(f"{args.seed}/{name}"))
               for name, (token, scope) in tokens.items()]
    rnd.shuffle(clients)
    server = Server(home, _free_port(), classic=classic)
    start_s = server.start()
    note(f"soak: {len(clients)} clients over {len(SCOPES)} scopes, {args.duration:.0f} s, "
         f"{args.mode} mode, server at {server.url} (up in {start_s:.1f} s)")
    soak = Soak(server, clients, args)
    try:
        anyio.run(soak.run)
        final_rss = _rss_kb(server.pid)
        if final_rss is not None:
            soak.rss.append((soak.elapsed(), server.lives, final_rss / 1024))
    finally:
        stop_status = server.stop()
    elapsed = soak.elapsed()
    store = verify(home, soak.ledger)
    result = _figures(soak, elapsed, store, args)
    result["server"] = {"start_s": round(start_s, 2), "exit_status_at_stop": stop_status,
                        "log": str(server.log), "messages": server.messages()[:50]}
    result["machine"] = machine(workdir)
    result["workdir"] = str(workdir)
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _figures(soak: Soak, elapsed: float, store: dict[str, Any],
             args: argparse.Namespace) -> dict[str, Any]:
    ledger = soak.ledger
    errors: dict[str, dict[str, Any]] = {}
    for operation, kind, at in ledger.errors:
        name = kind if kind.startswith(operation) else f"{operation}: {kind}"
        seen = errors.setdefault(name, {"count": 0, "first_s": round(at, 1)})
        seen["count"] += 1
        seen["last_s"] = round(at, 1)
    unacknowledged = sum(1 for _, kind, _ in ledger.errors if kind == UNACKNOWLEDGED)
    unexpected = {name: seen["count"] for name, seen in errors.items()
                  if not name.endswith(UNACKNOWLEDGED)}
    return {
        "config": {"duration_s": args.duration, "clients": args.clients, "scopes": len(SCOPES),
                   "seed": args.seed, "mode": args.mode, "live_cap": args.live_cap,
                   "baseline_calls": args.baseline_calls, "mix": MIX},
        "elapsed_s": round(elapsed, 1),
        "operations": len(ledger.latencies) + len(ledger.errors),
        "ok_per_second": round(len(ledger.latencies) / elapsed, 2),
        "ok_by_life": dict(ledger.ok_by_life),
        "latency": _by_operation(ledger.latencies),
        "baseline_latency": _by_operation(ledger.baseline),
        "errors": dict(sorted(errors.items())),
        "unacknowledged": unacknowledged,
        "unexpected_errors": unexpected,
        "sessions_opened": ledger.connects,
        "failed_connects": ledger.failed_connects,
        "store": store,
        "cross_scope": len(ledger.foreign),
        "cross_scope_samples": ledger.foreign[:20],
        "events": soak.events,
        "rss": rss_verdict(soak.rss, args.rss_tolerance),
        "rss_samples": [(round(t, 1), life, round(mib, 1)) for t, life, mib in soak.rss],
    }


def _by_operation(latencies: list[tuple[str, float]]) -> dict[str, dict[str, Any]]:
    by_operation: dict[str, list[float]] = {}
    for operation, seconds in latencies:
        by_operation.setdefault(operation, []).append(seconds)
    return {operation: summary(values) for operation, values in sorted(by_operation.items())}


def table(result: dict[str, Any]) -> str:
    """The figures of a run, as text."""
    store, rss, events = result["store"], result["rss"], result["events"]
    lines = [f"Soak: {result['config']['clients']} MCP clients over HTTP, "
             f"{result['config']['scopes']} scopes, {result['elapsed_s']} s, "
             f"{result['config']['mode']} mode, seed {result['config']['seed']}",
             f"operations: {result['operations']:,} ({result['ok_per_second']} ok/s; "
             f"ok per server life {result['ok_by_life']})", "",
             f"{'operation':<10} {'n':>7} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}"
             f"   {'alone p50':>9} {'p50 ratio':>9}"]
    for operation, figures in result["latency"].items():
        alone = result["baseline_latency"].get(operation, {}).get("p50_ms", float("nan"))
        lines.append(f"{operation:<10} {figures['n']:>7,} {figures['p50_ms']:>9.1f} "
                     f"{figures['p95_ms']:>9.1f} {figures['max_ms']:>9.1f}   {alone:>9.1f} "
                     f"{figures['p50_ms'] / alone:>9.1f}")
    lines.append(f"(alone: one client calling each operation in turn before the load, "
                 f"{result['config']['baseline_calls']} calls of each)")
    lines += ["", "errors by type:" if result["errors"] else "errors: none"]
    lines += [f"  {kind}: {seen['count']} (from {seen['first_s']} s to {seen['last_s']} s)"
              for kind, seen in result["errors"].items()]
    kill, reindex = events.get("kill", {}), events.get("reindex", {})
    lines += ["",
              f"reindex (another process) at {reindex.get('at_s')} s: exit "
              f"{reindex.get('exit_status')}, {reindex.get('reindexed')} memories in "
              f"{reindex.get('seconds')} s",
              f"kill -9 at {kill.get('at_s')} s: serving again after {kill.get('restart_s')} s; "
              f"{kill.get('orphan_count')} of its processes outlived it "
              f"{kill.get('orphans') or ''}",
              f"sessions opened {result['sessions_opened']}, failed connection attempts "
              f"{result['failed_connects']}",
              f"server log: {len(result['server']['messages'])} lines besides its banner"
              + "".join(f"\n  {line}" for line in result["server"]["messages"][:10]), "",
              f"acknowledged writes {store['acknowledged_writes']:,}: lost "
              f"{store['lost_writes']} (target 0; {store['checked_present']:,} checked present, "
              f"{store['uncertain']} of unknown outcome)",
              f"acknowledged forgets undone: {store['forgets_undone']} (target 0; "
              f"{store['checked_forgotten']:,} checked)",
              f"results from another scope: {result['cross_scope']} (target 0)", "",
              "server RSS (MiB), per life: middle third -> last third (ratio)"]
    for life, figures in rss["lives"].items():
        if "last_over_middle" in figures:
            lines.append(f"  life {life}: {figures['first_mib']} at start, "
                         f"{figures['middle_third_mean_mib']} -> "
                         f"{figures['last_third_mean_mib']} "
                         f"({figures['last_over_middle']}), peak {figures['peak_mib']}, "
                         f"{figures['samples']} samples")
        else:
            lines.append(f"  life {life}: {figures['verdict']}")
    lines.append(f"  verdict: {'flat' if rss['flat'] else 'GROWING'} after warm-up "
                 f"(tolerance {rss['tolerance']:.0%})")
    return "\n".join(lines)


def failed(result: dict[str, Any]) -> bool:
    """Lost, altered or undone writes, or results from another scope."""
    store = result["store"]
    return bool(store["lost_writes"] or store["mislabelled"] or store["forgets_undone"]
                or result["cross_scope"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0,
                        help="seconds of load (default 600)")
    parser.add_argument("--clients", type=int, default=8, help="MCP clients (default 8)")
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--mode", choices=("classic", "code"), default="classic",
                        help="classic: remember, recall, forget and export are tools and "
                             "run_code is the execute tool; code: every call is run_code")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="JSON on stdout (no FILE) or the table plus JSON in FILE")
    parser.add_argument("--live-cap", type=int, default=250,
                        help="memories a client keeps before forgetting four at a time")
    parser.add_argument("--max-ops", type=int, default=500_000, help="stop after this many calls")
    parser.add_argument("--call-timeout", type=float, default=60.0)
    parser.add_argument("--baseline-calls", type=int, default=20,
                        help="calls of each operation by one client alone before the load")
    parser.add_argument("--rss-every", type=float, default=2.0, help="seconds between samples")
    parser.add_argument("--rss-tolerance", type=float, default=0.10)
    parser.add_argument("--workdir", help="where the data dir goes (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log")
    args = parser.parse_args(argv)
    # The SDK logs each session it cannot end on a killed server: expected here.
    logging.getLogger("mcp").setLevel(logging.ERROR)
    if args.clients < len(SCOPES):
        parser.error(f"--clients must be at least {len(SCOPES)} (one per scope)")
    try:
        result = run(args)
    except RuntimeError as exc:
        note(f"soak: {exc}")
        return 2
    if args.json == "-":
        print(json.dumps(result, indent=2))
    else:
        publish(result, table(result), args.json)
    return 1 if failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())
