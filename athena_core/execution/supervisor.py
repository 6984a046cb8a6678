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
import subprocess
import time
from collections.abc import Callable
from typing import Any

import attrs

from athena_core.execution.bridge import (
    MAX_REPLY_BYTES,
    BridgeHost,
    BridgeViolation,
    operation_specs,
)
from athena_core.execution.model import ErrorInfo, ExecutionRequest, ExecutionResult, Status
from athena_core.execution.policy import Limits
from athena_core.sandbox_client import frames

__all__ = ["Worker", "rlimit_setter", "supervise"]

_READ_CHUNK = 64 * 1024


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


def start_worker(command: list[str], *, preexec: Callable[[], None] | None = None,
                 env: dict[str, str] | None = None, extra_fds: dict[int, int] | None = None
                 ) -> Worker:
    """Start ``command`` with the bridge socket on fd 3 and piped stdout/stderr.

    ``extra_fds`` maps a file descriptor number in the child to one of ours (for
    example a seccomp program for bubblewrap). Every other descriptor of the host
    process is closed in the child.
    """
    host_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    wanted = {3: worker_end.fileno(), **(extra_fds or {})}
    # Copies above every target number, so no dup2 in the child overwrites a source.
    floor = max(wanted) + 1
    staged = {child: fcntl.fcntl(parent, fcntl.F_DUPFD_CLOEXEC, floor)
              for child, parent in wanted.items()}

    def child_setup() -> None:
        for child, parent in staged.items():
            os.dup2(parent, child)
        if preexec is not None:
            preexec()

    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=tuple(wanted), preexec_fn=child_setup, start_new_session=True,
            env=env if env is not None else {}, close_fds=True)
    finally:
        worker_end.close()
        for fd in staged.values():
            os.close(fd)
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


def supervise(worker: Worker, request: ExecutionRequest, bridge: BridgeHost, *,
              executor: str, operations: list[dict[str, Any]] | None = None,
              violations: list[str] | None = None) -> ExecutionResult:
    """Run ``request`` on ``worker`` to completion; the worker is always killed after."""
    limits = request.policy.limits
    notes = list(violations or ())
    started = time.monotonic()
    deadline = started + limits.wall_seconds
    stdout, stderr = bytearray(), bytearray()
    result: dict[str, Any] | None = None
    status: Status | None = None
    # Calls are capped at MAX_CALL_BYTES by the bridge; the final result may be larger.
    reader = frames.FrameReader(MAX_REPLY_BYTES)
    selector = selectors.DefaultSelector()
    try:
        worker.sock.sendall(frames.encode({
            "type": "run", "code": request.code, "language": request.language,
            "operations": operations if operations is not None
            else operation_specs(bridge._registry, request),
            "max_reply_bytes": MAX_REPLY_BYTES}))
        worker.sock.setblocking(False)
        selector.register(worker.sock, selectors.EVENT_READ, "bridge")
        assert worker.process.stdout is not None and worker.process.stderr is not None
        for stream, sink in ((worker.process.stdout, stdout), (worker.process.stderr, stderr)):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ, sink)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                status = "timeout"
                notes.append(f"wall time limit of {limits.wall_seconds:g} s reached")
                break
            for key, _ in selector.select(timeout=min(remaining, 1.0)):
                if key.data == "bridge":
                    done = _serve(worker.sock, reader, bridge, selector)
                    if done is not None:
                        result = done
                else:
                    data = _read(key.fileobj)
                    if data is None:
                        continue
                    if not data:
                        selector.unregister(key.fileobj)
                        continue
                    key.data.extend(data)
                    if len(stdout) + len(stderr) > limits.output_bytes:
                        status = "killed"
                        notes.append(f"output limit of {limits.output_bytes:,} bytes reached")
                        selector.close()
                        break
            if status is not None:
                break
            if result is not None:
                # The worker flushed its output before sending the result, so what it
                # wrote is already in the pipes: take it and stop waiting for its exit.
                _drain(selector, stdout, stderr, limits.output_bytes)
                break
    except BridgeViolation as exc:
        status = "error"
        notes.append(f"bridge protocol violation: {exc}")
        result = {"error": {"type": "BridgeViolation", "message": str(exc), "line": None}}
    except frames.FrameError as exc:
        status = "error"
        notes.append(f"bridge protocol violation: {exc}")
        result = {"error": {"type": "BridgeViolation", "message": str(exc), "line": None}}
    finally:
        selector.close()
        worker.kill()
        cpu, peak = _reap(worker)
        worker.close()
    duration = time.monotonic() - started
    code = worker.process.returncode
    if status is None:
        if result is None:
            status = "killed"
            notes.append(_death(code, limits))
        elif result.get("error"):
            status = "error"
        else:
            status = "ok"
    error = None
    if result and result.get("error"):
        e = result["error"]
        error = ErrorInfo(type=str(e.get("type", "Error")), message=str(e.get("message", "")),
                          line=e.get("line") if isinstance(e.get("line"), int) else None)
    elif status == "timeout":
        error = ErrorInfo("Timeout", f"the program ran longer than {limits.wall_seconds:g} s")
    elif status == "killed":
        error = ErrorInfo("Killed", notes[-1])
    return ExecutionResult(
        id=request.id, status=status, executor=executor, language=request.language,
        policy=request.policy.name,
        stdout=_text(stdout, limits.output_bytes), stderr=_text(stderr, limits.output_bytes),
        value=(result or {}).get("value"), error=error, duration_s=duration, cpu_s=cpu,
        peak_memory_bytes=peak, bridge_calls=tuple(bridge.calls),
        violations=tuple(notes + bridge.violations))


def _serve(sock: socket.socket, reader: frames.FrameReader, bridge: BridgeHost,
           selector: selectors.BaseSelector) -> dict[str, Any] | None:
    try:
        data = sock.recv(_READ_CHUNK)
    except BlockingIOError:
        return None
    except ConnectionResetError:  # the worker died: same as closing the bridge
        data = b""
    if not data:
        selector.unregister(sock)
        if reader.pending:
            raise BridgeViolation("the program closed the bridge in the middle of a frame")
        return None
    result = None
    for frame in reader.feed(data):
        if frame["type"] == "result":
            result = frame
            continue
        reply = bridge.handle(frame, len(frames.encode(frame)))
        sock.setblocking(True)
        try:
            sock.sendall(reply)
        finally:
            sock.setblocking(False)
    return result


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
    if code == -signal.SIGXCPU or code == -signal.SIGKILL:
        return (f"the program was killed (CPU limit {limits.cpu_seconds:g} s or memory limit "
                f"{limits.memory_bytes // (1 << 20)} MiB)")
    return f"the worker exited without a result (exit status {code})"


def _text(data: bytearray, cap: int) -> str:
    text = bytes(data[:cap]).decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > cap else "")
