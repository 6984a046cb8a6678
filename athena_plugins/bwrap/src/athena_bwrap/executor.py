"""The bubblewrap executor, with a warm pool of pre-started workers."""

from __future__ import annotations

import logging
import os
import platform
import queue
import secrets
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

import athena_core.sandbox_client
from athena_bwrap import seccomp
from athena_bwrap.command import sandbox_command
from athena_core.errors import SandboxUnavailableError
from athena_core.execution.bridge import BridgeHost, policy_key
from athena_core.execution.model import (
    LANGUAGES,
    ExecutionRequest,
    ExecutionResult,
    ExecutorBase,
    ExecutorContext,
    IsolationFeature,
)
from athena_core.execution.policy import Policy, path_refusals, protected_paths
from athena_core.execution.supervisor import (
    Worker,
    pipe,
    rlimit_setter,
    start_worker,
    supervise,
)
from athena_core.options import PluginOptions

__all__ = ["BwrapExecutor"]

#: Host uids handed to sandboxes when Athena runs as root (unused by real accounts).
_UID_RANGE = (1_000_000_000, 1_100_000_000)
_DISK_BYTES = 64 << 20
#: Read from the executor options table, which every executor shares (no name check).
_OPTIONS = PluginOptions("bwrap executor", "[execution.executor_options]", ("seccomp",))
_SECCOMP_OFF = '[execution.executor_options] seccomp = "off"'
log = logging.getLogger("athena.bwrap")


def _fingerprint(policy: Policy) -> tuple[Any, ...]:
    """What a pre-started worker was set up with (host-side limits excluded), including
    which operations its ``/athena/apis`` tree lists."""
    limits = attrs.evolve(policy.limits, wall_seconds=1, output_bytes=1, api_calls=1)
    return (policy.read_paths, policy.write_paths, policy.deny_paths, policy.env, limits,
            *policy_key(policy))


class BwrapExecutor(ExecutorBase):
    """Runs programs under bubblewrap; see the package README for what it enforces."""

    name = "bwrap"

    def __init__(self, context: ExecutorContext) -> None:
        super().__init__(context)
        self._bwrap = shutil.which("bwrap")
        self._setpriv = shutil.which("setpriv")
        self._client_dir = Path(athena_core.sandbox_client.__file__).parent
        self._pool: deque[tuple[tuple[Any, ...], Worker]] = deque()
        self._pool_lock = threading.Lock()
        self._closed = False
        # Workers must be started by a thread that outlives them: bubblewrap's
        # --die-with-parent kills the sandbox when the *thread* that forked it exits.
        self._refills: queue.SimpleQueue[Policy | None] = queue.SimpleQueue()
        self._refiller: threading.Thread | None = None
        seccomp_option = context.options.get("seccomp", "on")
        self._seccomp_off = _OPTIONS.choice("seccomp", seccomp_option, ("on", "off")) == "off"
        if self._seccomp_off:
            log.warning("the bwrap executor runs programs without its seccomp filter (%s)",
                        _SECCOMP_OFF)

    # --- capability ------------------------------------------------------------------

    def _probe(self) -> str | None:
        if not self._seccomp_off and seccomp.architecture() is None:
            return (f"bwrap has no seccomp filter for architecture {platform.machine()} "
                    f"(it has one for {', '.join(seccomp.ARCHITECTURES)}); Athena does not "
                    "run code with less isolation than it reports — use the srt executor, "
                    f"or run without the filter by setting {_SECCOMP_OFF}")
        if self._bwrap is None:
            return "bubblewrap is not installed; install it (sudo apt-get install bubblewrap)"
        if os.geteuid() == 0 and self._setpriv is None:
            return "setpriv (util-linux) is missing; it drops the sandbox to an unused uid"
        try:
            probe = subprocess.run(
                [self._bwrap, "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev",
                 "--proc", "/proc", "true"], capture_output=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap could not start: {exc}"
        if probe.returncode != 0:
            why = probe.stderr.decode(errors="replace").strip()
            return (f"bubblewrap cannot create namespaces here ({why}); enable unprivileged "
                    "user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run "
                    "Athena where they are allowed")
        return None

    def isolation(self) -> Mapping[str, IsolationFeature]:
        """What holds when this executor runs a program here (see the package README)."""
        feature = IsolationFeature
        namespaces = "mount, pid, net, ipc, uts, and cgroup where the kernel has it"
        if os.geteuid() == 0:
            namespaces += "; no user namespace: the program runs as an unused host uid"
            uid = (f"a fresh, otherwise unused host uid per sandbox ({_UID_RANGE[0]}-"
                   f"{_UID_RANGE[1] - 1}, through setpriv); no capabilities")
        else:
            namespaces = f"user, {namespaces}"
            uid = (f"nobody (65534) in a user namespace, the calling user (uid {os.getuid()}) "
                   "outside; no capabilities")
        return {
            "os_sandbox": feature(True, "bubblewrap"),
            "namespaces": feature(True, namespaces),
            "seccomp": self._seccomp_feature(),
            "uid": feature(True, uid),
            "no_new_privs": feature(True, "set by bubblewrap"),
            "rlimits": feature(True, "CPU time, memory, processes, file size, open files; "
                                     "the host enforces wall time, output and the process "
                                     "tree's CPU and memory"),
            "network": feature(True, "none: an empty network namespace (policies allowing "
                                     "network domains are refused; use srt)"),
            "filesystem": feature(True, "system directories and Python read-only, /proc/sys "
                                        "read-only, private /work and /tmp (tmpfs, "
                                        f"{_DISK_BYTES >> 20} MiB each), only the policy's "
                                        "paths mounted, protected paths masked"),
        }

    def _seccomp_feature(self) -> IsolationFeature:
        arch = seccomp.architecture()
        if self._seccomp_off:
            return IsolationFeature(False, f"turned off by {_SECCOMP_OFF}")
        if arch is None:
            return IsolationFeature(False, f"no filter for architecture {platform.machine()} "
                                           "(bwrap refuses to run)")
        abis = "another architecture's or x32 calls" if arch.x32 else "another architecture's calls"
        return IsolationFeature(True, (
            f"{arch.name} filter: {len(arch.denied())} kernel-attack-surface calls "
            "(ptrace, mount, bpf, keyctl, io_uring, ...), new namespaces and new unix-domain "
            f"sockets refused; {abis} kill the program"))

    def refusals(self, policy: Policy, language: str) -> list[str]:
        reasons = []
        if policy.network_domains:
            reasons.append("bwrap cannot filter network access by domain "
                           f"({', '.join(policy.network_domains)}); use the srt executor")
        if language not in LANGUAGES:
            reasons.append(f"unknown language {language!r}")
        elif language == "javascript" and shutil.which("node") is None:
            reasons.append("javascript needs node, which is not installed")
        for path in policy.resolved_paths(policy.read_paths + policy.write_paths):
            if not path.exists():
                reasons.append(f"policy path {path} does not exist")
        return reasons + path_refusals(policy, self._context.data_dir)

    # --- running ---------------------------------------------------------------------

    def run(self, request: ExecutionRequest, bridge: BridgeHost) -> ExecutionResult:
        worker = self._take(request.policy) or self._start(request.policy)
        return supervise(worker, request, bridge, executor=self.name)

    def prewarm(self, policy: Policy) -> None:
        """Start workers for ``policy`` in the background, up to the pool size.

        Athena calls this after an execution has been recorded, so that starting the
        next sandbox does not compete with finishing this one.
        """
        self._refill_async(policy)

    def _start(self, policy: Policy) -> Worker:
        as_root = os.geteuid() == 0
        uid = secrets.SystemRandom().randrange(*_UID_RANGE) if as_root else None
        deny = protected_paths(policy, self._context.data_dir)
        bpf = None
        if not self._seccomp_off:
            arch = seccomp.architecture()
            if arch is None:  # unavailable() says so; never start without the filter
                raise SandboxUnavailableError(
                    f"bwrap has no seccomp filter for architecture {platform.machine()}.",
                    hint=f"Use the srt executor, or set {_SECCOMP_OFF}.")
            bpf = seccomp.filter_program(arch)
        seccomp_fds = pipe() if bpf is not None else None
        # bubblewrap reads both pipes at the numbers they have here (then closes them).
        command = sandbox_command(policy, client_dir=self._client_dir, deny=deny, uid=uid,
                                  seccomp_fd=seccomp_fds[0] if seccomp_fds else None,
                                  disk_bytes=_DISK_BYTES,
                                  api_tree=self._context.api_tree(policy))
        # The options (mount paths, passed-through environment values) go through a pipe
        # (--args), so they show neither in the host's `ps` nor in the sandbox's /proc;
        # bubblewrap wants the command itself on its command line.
        split = command.index("--")
        options, program = command[1:split], command[split:]
        args_fds = pipe()
        pipes = (args_fds[0], *(seccomp_fds[:1] if seccomp_fds else ()))
        # Unprivileged callers share RLIMIT_NPROC with their own processes: allow for them.
        extra = 0 if as_root else _processes_of(os.getuid())
        preexec = rlimit_setter(policy.limits, processes=policy.limits.processes + extra)
        try:
            # The bridge at its number here, not on stdin: bubblewrap's own processes
            # keep stdin open as long as the sandbox runs.
            worker = start_worker(
                lambda bridge: [self._bwrap or "bwrap", "--args", str(args_fds[0]), *program,
                                "--bridge-fd", str(bridge)],
                preexec=preexec, env={"PATH": "/usr/bin:/bin"}, pass_fds=pipes)
            os.write(args_fds[1], b"".join(a.encode() + b"\0" for a in options))
            if seccomp_fds and bpf is not None:
                os.write(seccomp_fds[1], bpf)
        finally:
            # Each fd closed exactly once: the pool thread starts workers concurrently, so
            # a second close could hit a number another thread has just been given.
            for fd in (*(seccomp_fds or ()), *args_fds):
                os.close(fd)
        return worker

    def _take(self, policy: Policy) -> Worker | None:
        key = _fingerprint(policy)
        with self._pool_lock:
            for _ in range(len(self._pool)):
                fingerprint, worker = self._pool.popleft()
                if fingerprint == key and worker.process.poll() is None:
                    return worker
                if worker.process.poll() is None and fingerprint != key:
                    self._pool.append((fingerprint, worker))
                else:
                    worker.close()
        return None

    def _refill(self, policy: Policy) -> None:
        key = _fingerprint(policy)
        while not self._closed:
            with self._pool_lock:
                ready = sum(1 for fp, _ in self._pool if fp == key)
                if ready >= self._context.pool_size:
                    return
            worker = self._start(policy)
            with self._pool_lock:
                if self._closed:
                    worker.close()
                    return
                self._pool.append((key, worker))

    def _refill_async(self, policy: Policy) -> None:
        if self._context.pool_size <= 0 or self._closed:
            return
        if self._refiller is None:
            self._refiller = threading.Thread(target=self._refill_forever, daemon=True,
                                              name="athena-bwrap-pool")
            self._refiller.start()
        self._refills.put(policy)

    def _refill_forever(self) -> None:
        while (policy := self._refills.get()) is not None:
            try:
                self._refill(policy)
            except Exception:  # a failed pre-start only costs the next run a cold start
                log.exception("could not pre-start a sandbox worker")

    def close(self) -> None:
        self._closed = True
        if self._refiller is not None:
            self._refills.put(None)
            self._refiller.join(timeout=10)
        with self._pool_lock:
            while self._pool:
                self._pool.popleft()[1].close()


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count
