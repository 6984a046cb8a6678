"""Host processes for tests/test_host_processes.py (run as ``python _hosts.py LAYOUT ...``).

``python _hosts.py LAYOUT EXECUTOR DATA_DIR SCRATCH_DIR`` sets up the process the
way an embedding application might (``LAYOUT``, below), opens Athena on
``DATA_DIR`` with ``EXECUTOR``, runs :data:`PROGRAM` twice (the second run may
take a pre-started worker) and prints one JSON object: each run's outcome, and
what became of the host's own descriptors, threads and signal handlers.

Layouts:

``closed``
    File descriptors 3-64 are closed while Athena runs (Athena's own files
    were opened above them).
``open``
    File descriptors 3-64 are open, inheritable, on unrelated files of
    ``SCRATCH_DIR``, each holding a marker; they must stay open and unchanged,
    and no process Athena starts may hold one.
``server``
    As ``closed``, with a listening socket served by a thread: connections,
    accepted and closed while the programs run, come and go at the lowest free
    numbers; another thread is blocked in ``accept``, a third in ``select``.
``stdio``
    As ``closed``, with standard input, output and error closed too (a daemon):
    descriptors Athena opens land on 0, 1 and 2.
``asyncio``
    Runs inside a running asyncio loop: once through ``loop.run_in_executor``,
    once called directly from a coroutine.
``signals``
    SIGCHLD is ignored and SIGTERM has a handler of the host's own.

``python _hosts.py exec-open SCRATCH_DIR -- COMMAND ...`` occupies descriptors
3-64 as in the ``open`` layout, writes its pid to ``SCRATCH_DIR/pid`` and
becomes ``COMMAND`` (an ``athena serve`` to test).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from athena_core import Athena
from athena_core.config import Config

LOW, HIGH = 3, 65
#: What every run executes: a bridge call, and what the program can see of the host.
PROGRAM = """
import athena
new_id = athena.remember(TEXT)
seen = None
exit_status = None
try:
    import os
    import subprocess
except ImportError:  # restrictedpython: no os, no subprocess
    pass
else:
    seen = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            seen[name] = os.readlink("/proc/self/fd/" + name)
        except OSError:
            seen[name] = None  # the listing's own descriptor, closed by now
    exit_status = subprocess.run(["sh", "-c", "exit 3"]).returncode
[new_id, seen, exit_status]
"""


def open_athena(data_dir: str, executor: str) -> Athena:
    raw: dict[str, dict[str, Any]] = {"plugins": {"strict": True},
                                      "retrieval": {"embedder": "hashing"},
                                      "execution": {"executor": executor}}
    url = os.environ.get("ATHENA_TEST_DATABASE_URL", "")
    if url:
        raw["storage"] = {"url": url}
    return Athena.open(config=Config.from_mapping(raw, data_dir=Path(data_dir), env={}))


def occupy(scratch: Path, *, markers: bool) -> dict[int, str]:
    """Put a file on every descriptor from LOW to HIGH - 1; return their paths."""
    paths = {}
    for number in range(LOW, HIGH):
        path = scratch / f"unrelated-{number}"
        path.write_text(f"marker {number}\n" if markers else "", encoding="utf-8")
        fd = os.open(path, os.O_RDWR)
        if fd != number:
            os.dup2(fd, number, inheritable=True)
            os.close(fd)
        os.set_inheritable(number, True)
        paths[number] = str(path)
    return paths


def markers_intact(paths: dict[int, str]) -> dict[str, str]:
    """Descriptors that are no longer open on their file, or whose marker changed."""
    broken = {}
    for number, path in paths.items():
        try:
            same = os.path.samestat(os.fstat(number), os.stat(path))
            content = os.pread(number, 64, 0).decode()
        except OSError as exc:
            broken[str(number)] = str(exc)
            continue
        if not same or content != f"marker {number}\n":
            broken[str(number)] = f"now {content!r}"
    return broken


class Watcher(threading.Thread):
    """Looks at the descriptors of every process this one starts, while Athena runs."""

    def __init__(self, paths: set[str]) -> None:
        super().__init__(daemon=True)
        self.paths = paths
        self.leaks: set[str] = set()
        self.looked_at: set[int] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        own = Path("/proc/self/cmdline").read_bytes()
        while not self.stop.is_set():
            for pid in descendants(os.getpid()):
                try:
                    # A child that has not exec'd yet is a copy of this process, which
                    # holds everything until subprocess closes it in the child.
                    if Path(f"/proc/{pid}/cmdline").read_bytes() == own:
                        continue
                    links = [os.readlink(f"/proc/{pid}/fd/{n}")
                             for n in os.listdir(f"/proc/{pid}/fd")]
                except OSError:
                    continue  # gone, or not ours to look at
                self.looked_at.add(pid)
                self.leaks.update(f"{pid}: {link}" for link in links if link in self.paths)
            time.sleep(0.002)


def descendants(root: int) -> list[int]:
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                    children = [int(c) for c in fh.read().split()]
                found += children
                pending += children
        except OSError:
            continue
    return found


def serve(listener: socket.socket, stop: threading.Event) -> None:
    """A web server's thread: accept, answer, close (descriptors come and go)."""
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(16)
            conn.sendall(b"ok")


def visit(port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"hi")
                conn.recv(16)
        except OSError:
            time.sleep(0.001)


def outcome(athena: Athena, result: Any, text: str) -> dict[str, Any]:
    value = result.value if result.status == "ok" else None
    stored = None
    if value:
        memory = athena.get(value[0])
        stored = memory.text if memory is not None else None
    return {"status": result.status, "stderr": result.stderr[-2000:],
            "error": result.error and f"{result.error.type}: {result.error.message}",
            "violations": list(result.violations), "value": value, "stored": stored,
            "expected": text}


def main(layout: str, executor: str, data_dir: str, scratch_dir: str) -> dict[str, Any]:
    scratch = Path(scratch_dir)
    report: dict[str, Any] = {"layout": layout}
    paths: dict[int, str] = {}
    stop = threading.Event()
    threads: list[threading.Thread] = []
    if layout in ("closed", "server", "stdio"):
        occupy(scratch, markers=False)  # Athena's own files go above HIGH
    elif layout == "open":
        paths = occupy(scratch, markers=True)
    athena = open_athena(data_dir, executor)
    athena.execution.executor(executor)  # probed (and refused if it cannot run) here
    if layout == "server":  # connections come and go at the lowest numbers, from 3 up
        listener = socket.create_server(("127.0.0.1", 0))
        idle = socket.create_server(("127.0.0.1", 0))
        quiet, _other = socket.socketpair()
    if layout in ("closed", "server", "stdio"):
        os.closerange(LOW, HIGH)
    if layout == "stdio":
        os.closerange(0, LOW)
    if layout == "server":
        threads += [
            threading.Thread(target=serve, args=(listener, stop), daemon=True),
            threading.Thread(target=visit, args=(listener.getsockname()[1], stop), daemon=True),
            threading.Thread(target=idle.accept, daemon=True),
            threading.Thread(target=select.select, args=([quiet], [], []), daemon=True)]
    if layout == "signals":
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        terms: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: terms.append(signum))
    watcher = Watcher(set(paths.values()))
    threads.append(watcher)
    for thread in threads:
        thread.start()
    texts = [f"{layout} host under {executor}, run {n}" for n in (1, 2)]

    def run(text: str) -> dict[str, Any]:
        return outcome(athena, athena.execute(PROGRAM.replace("TEXT", repr(text))), text)

    try:
        if layout == "asyncio":
            async def both() -> list[dict[str, Any]]:
                loop = asyncio.get_running_loop()
                first = await loop.run_in_executor(None, run, texts[0])
                return [first, run(texts[1])]

            report["runs"] = asyncio.run(both())
        else:
            report["runs"] = [run(text) for text in texts]
    finally:
        watcher.stop.set()
        stop.set()
        watcher.join()
        report["watched_processes"] = len(watcher.looked_at)
        report["leaks"] = sorted(watcher.leaks)
        report["broken_markers"] = markers_intact(paths)
        report["marker_paths"] = sorted(paths.values())
        if layout == "signals":
            report["sigchld_ignored"] = signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)
            report["sigterm_handled"] = terms == [signal.SIGTERM]
        athena.close()
    return report


def exec_open(scratch_dir: str, command: list[str]) -> None:
    """Occupy descriptors 3-64 as in the ``open`` layout, then become ``command``."""
    occupy(Path(scratch_dir), markers=True)
    (Path(scratch_dir) / "pid").write_text(str(os.getpid()), encoding="utf-8")
    os.execv(command[0], command)


if __name__ == "__main__":
    if sys.argv[1] == "exec-open":
        exec_open(sys.argv[2], sys.argv[4:])
    # The report goes out on a copy of stdout that no layout closes.
    with os.fdopen(os.dup2(1, 200, inheritable=False), "w", encoding="utf-8") as out:
        print(json.dumps(main(*sys.argv[1:5])), file=out, flush=True)
