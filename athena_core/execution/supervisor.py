"""Runs one sandboxed worker process: feeds it the program, serves its bridge calls,
caps its output, enforces wall time, kills its whole process tree, and reports.

Every executor that runs the stock worker (bubblewrap, the Sandbox Runtime,
RestrictedPython) uses :func:`supervise`; they differ only in how the process
is started.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import selectors
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from athena_core.execution.bridge import (
    MAX_CALL_BYTES,
    MAX_REPLY_BYTES,
    BridgeHost,
    BridgeViolation,
    error_classes_json,
)
from athena_core.execution.model import ErrorInfo, ExecutionRequest, ExecutionResult, Status
from athena_core.execution.policy import Limits
from athena_core.sandbox_client import frames

__all__ = ["Worker", "max_result_bytes", "pipe", "reachable_python", "rlimit_setter",
           "start_worker", "supervise"]

_READ_CHUNK = 64 * 1024
#: What a result frame may carry beyond the output limit (the error, the frame itself).
_RESULT_SLACK = 64 * 1024


def max_result_bytes(limits: Limits) -> int:
    """Largest result frame a program may send: its value may be as large as its output."""
    return limits.output_bytes + _RESULT_SLACK


@attrs.define
class Worker:
    """A started worker process and the host end of its bridge socket."""

    process: subprocess.Popen[bytes]
    sock: socket.socket
    started: float = attrs.field(factory=time.monotonic)

    def kill(self) -> None:
        """Kill the worker's whole process tree (its own session / PID namespace)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()

    def close(self) -> None:
        self.kill()
        self.sock.close()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _above_stdio(fd: int) -> int:
    """``fd``, or a copy of it above 2 (``fd`` closed) if it is a standard descriptor's number.

    A host with standard input, output or error closed (a daemon) gets new
    descriptors at 0, 1 and 2; passed on at those numbers, the child's own standard
    streams would overwrite them.
    """
    if fd > 2:
        return fd
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    finally:
        os.close(fd)


def pipe() -> tuple[int, int]:
    """:func:`os.pipe`, both ends above the standard descriptors (to pass to a worker)."""
    read, write = os.pipe()
    try:
        read = _above_stdio(read)
    except BaseException:
        os.close(write)
        raise
    return read, _above_stdio(write)


def _socketpair() -> tuple[socket.socket, socket.socket]:
    """A connected pair of Unix sockets, both above the standard descriptors."""
    ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    moved = []
    for end in ends:
        if end.fileno() > 2:
            moved.append(end)
            continue
        try:
            moved.append(socket.socket(fileno=_above_stdio(end.detach())))
        except BaseException:
            for sock in (*moved, *ends):
                sock.close()
            raise
    return moved[0], moved[1]


def start_worker(command: list[str] | Callable[[int], list[str]], *,
                 preexec: Callable[[], None] | None = None, env: dict[str, str] | None = None,
                 pass_fds: Sequence[int] = ()) -> Worker:
    """Start a worker with one end of a new bridge socket; stdout and stderr piped.

    ``command`` is the worker's command line, and the bridge its standard input;
    or a function of the bridge's descriptor number here that returns a command
    line naming that number (for a launcher that keeps its own standard input
    open while the sandbox runs, as bubblewrap does): the child then inherits
    the bridge at that number, and ``/dev/null`` as its standard input. The
    worker moves the bridge to fd 3 itself (``sandbox_client/worker_setup.py``),
    so no descriptor number is fixed here: the host's own descriptors, at any
    numbers, are neither needed, touched nor passed on. ``pass_fds``: more of our
    descriptors the child inherits, at their numbers here (which the command
    names). Every other descriptor is closed in the child.
    """
    host_end, worker_end = _socketpair()
    try:
        if callable(command):
            argv, stdin = command(worker_end.fileno()), subprocess.DEVNULL
            pass_fds = (*pass_fds, worker_end.fileno())
        else:
            argv, stdin = command, worker_end.fileno()
        process = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=tuple(pass_fds), preexec_fn=preexec, start_new_session=True,
            env=env if env is not None else {}, close_fds=True)
    except BaseException:
        host_end.close()
        raise
    finally:
        worker_end.close()
    return Worker(process, host_end)


def rlimit_setter(limits: Limits, *, processes: int | None = None) -> Callable[[], None]:
    """A pre-exec function applying ``limits`` as rlimits (inherited by the whole tree)."""
    nproc = limits.processes if processes is None else processes

    def apply() -> None:
        cpu = max(1, int(limits.cpu_seconds + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        # RLIMIT_DATA counts memory a program can use (heap, anonymous mappings) but not
        # address space merely reserved, which V8 and others reserve by gigabytes.
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_bytes,
                                                   limits.file_size_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def reachable_python() -> str:
    """An interpreter a sandbox's unprivileged uid can run (the stock worker needs only the stdlib).

    The base interpreter when other users can reach it; otherwise (say, a pyenv
    build under a 0700 /root) the system's ``python3.N`` of the same or a newer
    minor version.
    """
    base = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    if _reachable_by_others(base):
        return base
    major, minor = sys.version_info[:2]
    for version in range(minor, minor + 10):
        for directory in ("/usr/bin", "/usr/local/bin"):
            candidate = os.path.realpath(f"{directory}/python{major}.{version}")
            if os.path.isfile(candidate) and _reachable_by_others(candidate):
                return candidate
    return base  # the probe then reports that the sandbox cannot run it


def _reachable_by_others(path: str) -> bool:
    """Whether a user other than the owner can run ``path`` (every parent searchable)."""
    try:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        return all(os.stat(parent).st_mode & stat.S_IXOTH for parent in Path(path).parents)
    except OSError:
        return False


def supervise(worker: Worker, request: ExecutionRequest, bridge: BridgeHost, *,
              executor: str, operations: list[dict[str, Any]] | None = None,
              violations: list[str] | None = None) -> ExecutionResult:
    """Run ``request`` on ``worker`` to completion; the worker is always killed after.

    ``operations`` replaces the bridge's operation specs, which are sent by default."""
    specs = (bridge.operation_specs_json() if operations is None
             else frames.ascii_json(operations))
    return _Supervision(worker, request, bridge, executor, list(violations or ())).run(specs)


#: How often the host measures the process tree's CPU time and memory.
_POLL_SECONDS = 0.05


class _Supervision:
    """One execution's event loop: bridge frames, output pipes, limits, deadline."""

    def __init__(self, worker: Worker, request: ExecutionRequest, bridge: BridgeHost,
                 executor: str, notes: list[str]) -> None:
        self.worker, self.request, self.bridge, self.executor = worker, request, bridge, executor
        self.limits = request.policy.limits
        self.notes = notes
        self.stdout, self.stderr = bytearray(), bytearray()
        self.result: dict[str, Any] | None = None
        self.status: Status | None = None
        # Each frame's length is checked against its kind's limit before its body is read:
        # calls MAX_CALL_BYTES, the final result what the output limit allows.
        self.max_result = max_result_bytes(self.limits)
        self.reader = frames.FrameReader(MAX_CALL_BYTES, larger={"result": self.max_result},
                                         max_values=frames.MAX_VALUES)
        self.outgoing = bytearray()
        self.cpu = 0.0
        self.peak = 0

    def run(self, operations: str) -> ExecutionResult:
        """Run the program; ``operations`` is the JSON text of the operation specs."""
        started = time.monotonic()
        selector = selectors.DefaultSelector()
        try:
            self.outgoing += frames.encode({
                "type": "run", "code": self.request.code, "language": self.request.language,
                "max_reply_bytes": MAX_REPLY_BYTES, "max_call_bytes": MAX_CALL_BYTES,
                "max_result_bytes": self.max_result},
                encoded={"operations": operations, "errors": error_classes_json()})
            self._loop(selector, started + self.limits.wall_seconds)
        except (BridgeViolation, frames.FrameError) as exc:
            self._violation(str(exc))
        except OSError as exc:  # the worker shut or broke its end of the bridge
            self._violation(f"the bridge failed ({exc})")
        finally:
            selector.close()
            self._measure()
            self.worker.kill()
            cpu, peak = _reap(self.worker)
            self.worker.close()
        return self._outcome(time.monotonic() - started, max(cpu, self.cpu),
                             max(peak, self.peak))

    def _loop(self, selector: selectors.BaseSelector, deadline: float) -> None:
        worker = self.worker
        worker.sock.setblocking(False)
        selector.register(worker.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, "bridge")
        assert worker.process.stdout is not None and worker.process.stderr is not None
        for stream, sink in ((worker.process.stdout, self.stdout),
                             (worker.process.stderr, self.stderr)):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ, sink)
        next_poll = time.monotonic() + _POLL_SECONDS
        bridge_open = True
        registered = selectors.EVENT_READ | selectors.EVENT_WRITE
        while True:
            now = time.monotonic()
            if now >= deadline:
                self._stop("timeout", f"wall time limit of {self.limits.wall_seconds:g} s "
                                      "reached")
                return
            if now >= next_poll:
                next_poll = now + _POLL_SECONDS
                if not self._within_limits():
                    return
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outgoing else 0)
            if bridge_open and wanted != registered:  # a syscall saved on most calls
                selector.modify(worker.sock, wanted, "bridge")
                registered = wanted
            timeout = max(0.0, min(deadline, next_poll) - now)
            for key, events in selector.select(timeout=timeout):
                if key.data == "bridge":
                    if events & selectors.EVENT_WRITE:
                        self._send()
                    if events & selectors.EVENT_READ and not self._receive(selector):
                        selector.unregister(worker.sock)
                        bridge_open = False
                elif not self._pipe(key, selector):
                    return
            if self.result is not None:
                # The worker flushed its output before sending the result, so what it
                # wrote is already in the pipes: take it and stop waiting for its exit.
                _drain(selector, self.stdout, self.stderr, self.limits.output_bytes)
                return
            if not selector.get_map():
                return

    def _receive(self, selector: selectors.BaseSelector) -> bool:
        """Read bridge frames; False once the worker closed its end."""
        try:
            data = self.worker.sock.recv(_READ_CHUNK)
        except BlockingIOError:
            return True
        except ConnectionResetError:  # the worker died: same as closing the bridge
            data = b""
        if not data:
            if self.reader.pending:
                raise BridgeViolation("the program closed the bridge in the middle of a frame")
            return False
        for frame, size in self.reader.feed_sized(data):
            if frame["type"] == "result":
                self.result = _checked_result(frame)
                continue
            if len(self.outgoing) > MAX_REPLY_BYTES:
                raise BridgeViolation("the program sends calls without reading the replies")
            try:
                self.outgoing += self.bridge.handle(frame, size)
            except BridgeViolation:
                raise
            except Exception as exc:  # nothing a program sends may crash the host
                raise BridgeViolation(f"the host could not handle a frame "
                                      f"({type(exc).__name__}: {exc})") from exc
        self._send()  # the reply usually fits the socket buffer: no wait for writability
        return True

    def _send(self) -> None:
        """Send what the socket takes now of the queued replies."""
        if not self.outgoing:
            return
        try:
            sent = self.worker.sock.send(self.outgoing)
        except BlockingIOError:
            return
        del self.outgoing[:sent]

    def _pipe(self, key: selectors.SelectorKey, selector: selectors.BaseSelector) -> bool:
        data = _read(key.fileobj)
        if data is None:
            return True
        if not data:
            selector.unregister(key.fileobj)
            return True
        key.data.extend(data)
        if len(self.stdout) + len(self.stderr) > self.limits.output_bytes:
            self._stop("killed", f"output limit of {self.limits.output_bytes:,} bytes reached")
            return False
        return True

    def _within_limits(self) -> bool:
        cpu, rss = self._measure()
        if cpu > self.limits.cpu_seconds:
            self._stop("killed", f"CPU time limit of {self.limits.cpu_seconds:g} s reached "
                                 "(all processes together)")
            return False
        if rss > self.limits.memory_bytes:
            self._stop("killed", f"memory limit of {self.limits.memory_bytes // (1 << 20)} MiB "
                                 "reached (all processes together)")
            return False
        return True

    def _measure(self) -> tuple[float, int]:
        cpu, rss = _tree_usage(self.worker.process.pid)
        self.cpu = max(self.cpu, cpu)
        self.peak = max(self.peak, rss)
        return cpu, rss

    def _stop(self, status: Status, why: str) -> None:
        self.status = status
        self.notes.append(why)

    def _violation(self, why: str) -> None:
        self.status = "error"
        self.notes.append(f"bridge protocol violation: {why}")
        self.result = {"error": {"type": "BridgeViolation", "message": why, "line": None}}

    def _outcome(self, duration: float, cpu: float, peak: int) -> ExecutionResult:
        limits, notes, result = self.limits, self.notes, self.result
        status = self.status
        if status is None:
            if result is None:
                status = "killed"
                notes.append(_death(self.worker.process.returncode, limits))
            else:
                status = "error" if result.get("error") else "ok"
        error = None
        if result and result.get("error"):
            e = result["error"]
            error = ErrorInfo(type=str(e.get("type", "Error")), message=str(e.get("message", "")),
                              line=e.get("line") if isinstance(e.get("line"), int) else None)
        elif status == "timeout":
            error = ErrorInfo("Timeout", f"the program ran longer than {limits.wall_seconds:g} s")
        elif status == "killed":
            error = ErrorInfo("Killed", notes[-1])
        cap = limits.output_bytes
        stdout = _text(self.stdout, cap)
        value = (result or {}).get("value") if status == "ok" else None
        truncated = (result or {}).get("value_truncated") if status == "ok" else None
        if truncated:
            notes.append(f"the value is {truncated:,} bytes as JSON, more than the output "
                         f"limit allows; it was cut to its first {len(str(value)):,} characters")
        return ExecutionResult(
            id=self.request.id, status=status, executor=self.executor,
            language=self.request.language, policy=self.request.policy.name,
            stdout=stdout, stderr=_text(self.stderr, max(0, cap - len(self.stdout))),
            value=value, error=error, value_truncated=truncated or 0,
            duration_s=duration, cpu_s=cpu, peak_memory_bytes=peak,
            bridge_calls=tuple(self.bridge.calls),
            violations=tuple(notes + self.bridge.violations))


def _checked_result(frame: dict[str, Any]) -> dict[str, Any]:
    error = frame.get("error")
    if error is not None and not (isinstance(error, dict)
                                  and isinstance(error.get("type", ""), str)
                                  and isinstance(error.get("message", ""), str)):
        raise BridgeViolation("malformed result frame (error must be an object with a string "
                              "type and message)")
    cut = frame.get("value_truncated")
    if cut is not None and not (isinstance(cut, int) and not isinstance(cut, bool)
                                and isinstance(frame.get("value"), str)):
        raise BridgeViolation("malformed result frame (value_truncated must be an integer, "
                              "with the start of the value's JSON text as its value)")
    return frame


def _tree_usage(root: int) -> tuple[float, int]:
    """CPU seconds (live processes plus the children they reaped) and resident bytes of
    the process tree under ``root``."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu, rss = 0.0, 0
    pending, seen = [root], set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            cpu += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
            rss += int(fields[21]) * page
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", "rb") as fh:
                    pending.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    return cpu, rss


def _read(stream: Any) -> bytes | None:
    """A chunk, ``b""`` at end of file, or ``None`` if nothing is ready."""
    try:
        return os.read(stream.fileno(), _READ_CHUNK)
    except BlockingIOError:
        return None


def _drain(selector: selectors.BaseSelector, stdout: bytearray, stderr: bytearray,
           cap: int) -> None:
    """Read what is left in the pipes after the worker exited (bounded by ``cap``)."""
    for key in list(selector.get_map().values()):
        if key.data == "bridge":
            continue
        while len(stdout) + len(stderr) <= cap:
            data = _read(key.fileobj)
            if not data:  # nothing more ready, or end of file
                break
            key.data.extend(data)


def _reap(worker: Worker) -> tuple[float, int]:
    """Wait for the worker; return (CPU seconds, peak RSS bytes) of its tree."""
    try:
        _, status, usage = os.wait4(worker.process.pid, 0)
    except ChildProcessError:
        return 0.0, 0
    worker.process.returncode = (-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                                 else os.WEXITSTATUS(status))
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def _death(code: int | None, limits: Limits) -> str:
    # A sandbox launcher reports its child's death by signal N as exit status 128 + N.
    signum = -code if code is not None and code < 0 else (
        code - 128 if code is not None and code > 128 else None)
    if signum == signal.SIGXCPU:
        return f"CPU time limit of {limits.cpu_seconds:g} s reached"
    if signum == signal.SIGKILL:
        return (f"the program was killed (CPU limit {limits.cpu_seconds:g} s or memory limit "
                f"{limits.memory_bytes // (1 << 20)} MiB)")
    if signum == signal.SIGSYS:
        return "the program was killed for a forbidden system call"
    if signum is not None:
        return f"the program died of signal {signal.Signals(signum).name}"
    return f"the worker exited without a result (exit status {code})"


def _text(data: bytearray, cap: int) -> str:
    text = bytes(data[:cap]).decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > cap else "")
