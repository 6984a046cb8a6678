"""Shared by the security suite: running attack programs and inspecting the host after.

Every attack runs a real program through ``Athena.execute`` with the real bubblewrap
executor; the helpers here only build programs, start listeners on the host and look
at the host's processes and files afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import stat
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from athena_core.execution.model import ExecutionResult

#: Wall limit for attacks that would otherwise wait or spin (keeps the suite fast).
WALL = 5.0
#: Credential files planted under the fake HOME (all covered by the default deny list).
CREDENTIALS = (".ssh/id_ed25519", ".aws/credentials", ".config/gh/hosts.yml", ".netrc",
               ".gnupg/secring.gpg", ".kube/config", ".docker/config.json")
#: How long the host waits for a sandbox's processes to disappear after execute returns.
GONE_WITHIN = 5.0


def limits(**values: Any) -> dict[str, Any]:
    """A policy dict: strict, with a short wall limit and ``values`` as further limits."""
    return {"limits": {"wall_seconds": WALL, **values}}


_PRELUDE = """\
import json as _json
ARGS = _json.loads(%r)
def attempt(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        return "!" + type(exc).__name__ + ": " + str(exc)
def read(path, mode="r"):
    with open(path, mode) as fh:
        return fh.read()
def write(path, data="x", mode="w"):
    with open(path, mode) as fh:
        return fh.write(data)
"""


def python(source: str, /, **args: Any) -> str:
    """A Python program: ``ARGS`` holds ``args`` (JSON data); ``attempt(fn, ...)`` returns
    fn's value or ``"!ErrorType: message"``; ``read``/``write`` open, use and close a file."""
    return _PRELUDE % json.dumps(args) + textwrap.dedent(source).strip() + "\n"


def refused(value: Any) -> bool:
    """``attempt`` reported an exception."""
    return isinstance(value, str) and value.startswith("!")


def javascript(source: str, /, **args: Any) -> str:
    prelude = f"const ARGS = JSON.parse({json.dumps(json.dumps(args))});\n"
    return prelude + textwrap.dedent(source).strip() + "\n"


def execute(athena: Any, code: str, **kwargs: Any) -> ExecutionResult:
    """``athena.execute``; an exception out of it (instead of a result) fails the test."""
    try:
        result = athena.execute(code, **kwargs)
    except Exception as exc:  # the host must turn every hostile program into a result
        pytest.fail(f"Athena.execute raised {type(exc).__name__}: {exc} instead of returning "
                    "a result", pytrace=False)
    assert result.executor == "bwrap", result.executor
    return result


def assert_ran(result: ExecutionResult) -> Any:
    """The program ran to the end inside the sandbox; its value."""
    assert result.status == "ok", (result.status, result.error, result.stderr[-2000:])
    return result.value


def assert_host_works(athena: Any) -> None:
    """The Athena instance still answers: a fresh execution and host-side memory calls."""
    after = execute(athena, "import athena\nlen(athena.operations) > 0 and 6 * 7")
    assert (after.status, after.value) == ("ok", 42), (after.status, after.error, after.stderr)
    marker = f"host still works {time.monotonic_ns()}"  # a 16-digit run may read as a card
    memory_id = athena.remember(marker, scope="host-check")
    stored = athena.get(memory_id, scope="host-check").text
    assert athena.privacy.reveal(stored, scope="host-check") == marker


def digest(path: Path) -> tuple[str, int, int]:
    """Content hash, mode and mtime: what an unchanged file keeps."""
    info = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mode, info.st_mtime_ns


def plant(path: Path, text: str, mode: int = 0o644) -> Path:
    """A host file the sandbox could read if it were visible (world-readable, world-traversable
    parents up to ``/``), so only the sandbox's isolation keeps it out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    assert_world_reachable(path)
    return path


def assert_world_reachable(path: Path) -> None:
    """Control: any uid on the host could open ``path`` (so a test of it can fail)."""
    info = path.stat()
    wanted = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(info.st_mode) else 0)
    assert info.st_mode & wanted == wanted, f"{path} is not world-readable"
    for parent in path.parents:
        assert parent.stat().st_mode & stat.S_IXOTH, f"{parent} is not world-traversable"


# --- host processes -----------------------------------------------------------------------

def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker``."""
    wanted = marker.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if wanted in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_gone(marker: str, timeout: float = GONE_WITHIN) -> list[int]:
    """Host pids still carrying ``marker`` after up to ``timeout`` seconds (ideally none)."""
    deadline = time.monotonic() + timeout
    while True:
        left = processes_with(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# --- listeners on the host ----------------------------------------------------------------

class Listener:
    """A host socket that records every connection and datagram it gets.

    ``start`` sends itself a probe from the host first: a listener that cannot hear the
    host could not hear the sandbox either, and the test would prove nothing.
    """

    def __init__(self, family: int, kind: int, address: Any) -> None:
        self.family, self.kind = family, kind
        self.sock = socket.socket(family, kind)
        self.sock.bind(address)
        if kind == socket.SOCK_STREAM:
            self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.address = self.sock.getsockname() if family != socket.AF_UNIX else address
        self.received: list[bytes] = []
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        probe = socket.socket(self.family, self.kind)
        try:
            probe.settimeout(2)
            if self.kind == socket.SOCK_STREAM:
                probe.connect(self.address)
                probe.sendall(b"host-probe")
            else:
                probe.sendto(b"host-probe", self.address)
        finally:
            probe.close()
        deadline = time.monotonic() + 5
        while b"host-probe" not in self.received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b"host-probe" in self.received, "the listener cannot hear the host"
        self.received.clear()
        self.connections = 0
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.kind == socket.SOCK_STREAM:
                    conn, _ = self.sock.accept()
                    self.connections += 1
                    conn.settimeout(1)
                    with conn, contextlib.suppress(OSError):
                        self.received.append(conn.recv(65536))
                else:
                    self.received.append(self.sock.recv(65536))
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                return

    def heard_nothing(self, settle: float = 0.3) -> bool:
        time.sleep(settle)  # anything already sent has arrived by now
        return self.connections == 0 and not self.received

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
