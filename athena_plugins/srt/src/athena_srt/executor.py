"""The Sandbox Runtime executor: each program runs under a fresh ``srt`` process.

One execution, start to end:

* a private directory holds the settings file, srt's own temporary directory
  (its proxy socket) and the program's work directory;
* ``srt --settings FILE -- python3 -I -B boot.py worker.py`` starts with a
  scrubbed environment, the bridge socket as its standard input, rlimits, and -
  when Athena runs as root - an otherwise unused uid, so that the process limit
  counts only this sandbox and the program holds no capabilities;
* the host sends a ``boot`` frame (environment, work directory, exact limits),
  which ``boot.py`` applies before it becomes the stock worker;
* :func:`~athena_core.execution.supervisor.supervise` runs the program; the
  worker's result frame decides the outcome, never srt's exit status;
* every process of the sandbox is killed and the directory removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

import athena_core.sandbox_client
import athena_srt
from athena_core.execution.bridge import BridgeHost
from athena_core.execution.model import (
    LANGUAGES,
    ErrorInfo,
    ExecutionRequest,
    ExecutionResult,
    ExecutorBase,
    ExecutorContext,
    IsolationFeature,
)
from athena_core.execution.policy import Limits, Policy
from athena_core.execution.supervisor import (
    Worker,
    reachable_python,
    rlimit_setter,
    start_worker,
    supervise,
)
from athena_core.sandbox_client import frames
from athena_srt.settings import build_settings, domain_problem, path_problem

__all__ = ["INSTALL_HINT", "SrtExecutor"]

#: srt releases after 0.0.78 need node 22.
INSTALL_HINT = ("install it with npm (npm install -g @anthropic-ai/sandbox-runtime@0.0.78) or "
                'point Athena at it: [execution.executor_options] srt = "/path/to/srt"')
_APT_PACKAGES = {"bwrap": "bubblewrap", "socat": "socat", "rg": "ripgrep"}
#: Host uids handed to sandboxes when Athena runs as root (other executors use 1.0e9-1.2e9).
_UID_RANGE = (1_200_000_000, 1_300_000_000)
#: Processes and threads of srt's own machinery under the sandbox uid: node (about a
#: dozen threads), sh, bubblewrap (2), bash, the socat relays and their per-connection
#: children, apply-seccomp (2). The program's own limit is applied inside (boot.py).
_SRT_PROCESSES = 48
#: srt (node) needs this much memory to start, whatever the program's limit.
_SRT_MEMORY_BYTES = 1 << 30
_SRT_OPEN_FILES = 1024
_PROBE_SECONDS = 60
_PROGRAM_PATH = "/usr/local/bin:/usr/bin:/bin"
log = logging.getLogger("athena.srt")


class SrtExecutor(ExecutorBase):
    """Runs programs under srt; see the package README for what it enforces."""

    name = "srt"

    def __init__(self, context: ExecutorContext) -> None:
        super().__init__(context)
        option = context.options.get("srt")
        self._srt = str(option) if option else shutil.which("srt")
        # The worker and its boot script run from world-readable copies, with the base
        # interpreter: the sandbox's unused uid may not be able to reach a virtualenv
        # (srt recreates the parents of allowed paths 0700 inside the sandbox).
        self._stage = _stage_worker_files()
        # Removed by close(), or when the executor is collected or the interpreter exits
        # without it (an executor never closed must not leave its copies in /tmp).
        self._remove_stage = weakref.finalize(self, shutil.rmtree, self._stage, True)
        self._client_dir = self._stage / "client"
        self._boot = self._stage / "boot.py"
        self._python = reachable_python()
        self._deny_extra = [context.data_dir.resolve()]
        self._in_flight = 0
        self._lock = threading.Lock()

    # --- capability ------------------------------------------------------------------

    def _probe(self) -> str | None:
        if platform.system() != "Linux":
            return "the srt executor supports Linux only"
        if not self._srt or not os.access(self._srt, os.X_OK):
            where = f"{self._srt} is not an executable" if self._srt else "srt is not on PATH"
            return f"the Sandbox Runtime CLI is missing ({where}); {INSTALL_HINT}"
        if shutil.which("node") is None and shutil.which("node", path=self._node_path()) is None:
            return "node (20.11 or later) is missing; srt runs on it"
        missing = [pkg for tool, pkg in _APT_PACKAGES.items() if shutil.which(tool) is None]
        if missing:
            return (f"srt needs {', '.join(missing)}; install with: sudo apt-get install -y "
                    f"{' '.join(missing)}")
        return self._try_run()

    def _try_run(self) -> str | None:
        """Run Python under srt as a program would be run, reading the worker's files."""
        run = _RunDir.create(self._sandbox_uid())
        try:
            settings = self._settings(Policy("probe"), run)
            run.write_settings(settings)
            process = subprocess.run(
                [self._srt or "srt", "--settings", str(run.settings), "--", self._python,
                 "-I", "-B", "-c", "import sys; [open(p).close() for p in sys.argv[1:]]",
                 str(self._boot), str(self._client_dir / "worker.py")],
                env=self._srt_env(run), cwd=run.work, stdin=subprocess.DEVNULL,
                capture_output=True, timeout=_PROBE_SECONDS, check=False,
                preexec_fn=run.drop_privileges, start_new_session=True)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"srt could not start: {exc}"
        finally:
            run.remove()
        if process.returncode != 0:
            why = process.stderr.decode(errors="replace").strip()[-2000:]
            return (f"srt cannot sandbox a command here (exit status {process.returncode}: "
                    f"{why or 'no message'}); check that bubblewrap can create user "
                    "namespaces (`srt --debug -- true`) and, when Athena runs as root, that "
                    "Python and Athena's files are readable by other users: the sandbox runs "
                    "as an unprivileged uid")
        return None

    def isolation(self) -> Mapping[str, IsolationFeature]:
        """What holds when srt runs a program here (see the package README)."""
        feature = IsolationFeature
        machine = platform.machine()
        shipped = machine.lower() in ("x86_64", "amd64", "aarch64", "arm64")
        if os.geteuid() == 0:
            uid = feature(True, f"a fresh, otherwise unused host uid per run ({_UID_RANGE[0]}-"
                                f"{_UID_RANGE[1] - 1}), for srt and the program; no "
                                "capabilities")
        else:
            uid = feature(False, f"the program runs as the calling user (uid {os.getuid()}); "
                                 "only srt's mount rules keep that user's files out")
        return {
            "os_sandbox": feature(True, "Sandbox Runtime (srt), on bubblewrap"),
            "namespaces": feature(True, "mount, pid, net, and user (bubblewrap's, as srt runs "
                                        "unprivileged); srt leaves ipc and uts shared"),
            # Off: what srt installs is not a system-call filter in bwrap's sense.
            "seccomp": feature(False, (
                f"no kernel-attack-surface filter; srt's own filter ({machine}) only refuses "
                "creating unix-domain sockets" + ("" if shipped else
                "; srt ships it for x86_64 and aarch64 and must build it here with a C "
                "compiler and libseccomp, or it does not start"))),
            "uid": uid,
            "no_new_privs": feature(True, "set by bubblewrap"),
            "rlimits": feature(True, "the policy's CPU time, memory (RLIMIT_DATA), file size, "
                                     "open files and processes, set inside by boot.py; the "
                                     "host enforces wall time, output and the process tree's "
                                     "CPU and memory"),
            "network": feature(True, "an empty network namespace; HTTP(S) and SOCKS only "
                                     "through srt's proxy, which allows the policy's "
                                     "network_domains and refuses every other host"),
            "filesystem": feature(True, "reading / denied; system directories, Python, the "
                                        "worker's files and the policy's paths allowed back, "
                                        "read-only; writes only to the private work directory "
                                        "and write_paths; protected paths hidden"),
        }

    def refusals(self, policy: Policy, language: str) -> list[str]:
        reasons = []
        for entry in policy.network_domains:
            problem = domain_problem(entry)
            if problem:
                reasons.append(f"network domain {entry!r} {problem}; srt cannot filter by it")
        if language not in LANGUAGES:
            reasons.append(f"unknown language {language!r}")
        elif language == "javascript" and shutil.which("node") is None:
            reasons.append("javascript needs node, which is not installed")
        for raw in policy.read_paths + policy.write_paths + policy.deny_paths:
            problem = path_problem(raw)
            if problem:
                reasons.append(f"policy path {raw!r} {problem}")
        for paths, write in ((policy.read_paths, False), (policy.write_paths, True)):
            for path in policy.resolved_paths(paths):
                if not path.exists():
                    reasons.append(f"policy path {path} does not exist")
                elif os.geteuid() == 0 and (problem := _closed_to_others(path, write=write)):
                    reasons.append(f"policy path {path} {problem}; the sandbox runs as an "
                                   "unprivileged uid, which needs that access on the host")
        return reasons

    # --- running ---------------------------------------------------------------------

    def run(self, request: ExecutionRequest, bridge: BridgeHost) -> ExecutionResult:
        policy = request.policy
        run = _RunDir.create(self._sandbox_uid())
        with self._lock:
            self._in_flight += 1
        try:
            run.write_settings(self._settings(policy, run))
            command = [self._srt or "srt", "--settings", str(run.settings), "--",
                       self._python, "-I", "-B", str(self._boot),
                       str(self._client_dir / "worker.py")]
            worker = start_worker(command, env=self._srt_env(run),
                                  preexec=self._preexec(policy.limits, run))
            with contextlib.suppress(OSError):  # srt died at once: supervise reports it
                worker.sock.sendall(frames.encode(self._boot_frame(policy, run)))
            result = supervise(worker, request, bridge, executor=self.name)
            return _explain_death(result, worker)
        finally:
            with self._lock:
                self._in_flight -= 1
            run.kill_processes()
            run.remove()

    def _settings(self, policy: Policy, run: _RunDir) -> dict[str, Any]:
        deny = [Path(p).expanduser().resolve() for p in policy.deny_paths] + self._deny_extra
        extra = [self._client_dir, self._boot.parent, *self._srt_package()]
        return build_settings(policy, work_dir=run.work, srt_tmp=run.srt_tmp,
                              extra_read=extra, deny=deny)

    def _srt_package(self) -> list[Path]:
        """srt's package directory: its seccomp helper runs inside the sandbox."""
        if not self._srt:
            return []
        cli = Path(os.path.realpath(self._srt))
        for candidate in (cli.parent.parent,
                          cli.parent.parent / "lib/node_modules/@anthropic-ai/sandbox-runtime",
                          cli.parent / "../lib/node_modules/@anthropic-ai/sandbox-runtime"):
            if (candidate / "package.json").is_file() and (candidate / "vendor").is_dir():
                return [candidate.resolve()]
        return []

    def _node_path(self) -> str:
        """PATH for srt: its own directory first (a local npm prefix has node beside it)."""
        dirs = []
        if self._srt:
            dirs.append(str(Path(self._srt).parent))
        node = shutil.which("node")
        if node:
            dirs.append(str(Path(node).parent))
        return ":".join(dict.fromkeys([*dirs, *_PROGRAM_PATH.split(":")]))

    def _srt_env(self, run: _RunDir) -> dict[str, str]:
        """srt's own environment: nothing of the host's; its HOME and TMPDIR are private."""
        return {"PATH": self._node_path(), "HOME": str(run.srt_tmp),
                "TMPDIR": str(run.srt_tmp), "CLAUDE_CODE_TMPDIR": str(run.work),
                "LANG": "C.UTF-8"}

    def _boot_frame(self, policy: Policy, run: _RunDir) -> dict[str, Any]:
        env = {"PATH": _PROGRAM_PATH, "HOME": str(run.work), "TMPDIR": str(run.work),
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        node = shutil.which("node")
        if node and str(Path(node).parent) not in _PROGRAM_PATH.split(":"):
            env["PATH"] = f"{Path(node).parent}:{_PROGRAM_PATH}"
        env.update({name: os.environ[name] for name in policy.env if name in os.environ})
        limits = policy.limits
        cpu = max(1, int(limits.cpu_seconds + 0.999))
        return {"type": "boot", "env": env, "cwd": str(run.work),
                "network": bool(policy.network_domains),
                "limits": {"cpu": [cpu, cpu + 1],
                           "data": [limits.memory_bytes] * 2,
                           "fsize": [limits.file_size_bytes] * 2,
                           "nofile": [limits.open_files] * 2,
                           "nproc": [limits.processes] * 2,
                           "core": [0, 0]}}

    def _preexec(self, limits: Limits, run: _RunDir) -> Callable[[], None]:
        """In srt's process: limits srt fits under, the sandbox uid."""
        # Without a uid of its own, the limit counts every task of this user, the other
        # sandboxes running now included.
        extra = 0 if run.uid is not None else (
            _tasks_of(os.getuid())
            + (_SRT_PROCESSES + limits.processes) * max(0, self._in_flight - 1))
        outer = attrs.evolve(limits, memory_bytes=max(limits.memory_bytes, _SRT_MEMORY_BYTES),
                             open_files=max(limits.open_files, _SRT_OPEN_FILES))
        apply_limits = rlimit_setter(outer, processes=limits.processes + _SRT_PROCESSES + extra)
        work = str(run.work)

        def preexec() -> None:
            apply_limits()
            os.chdir(work)
            run.drop_privileges()

        return preexec

    def _sandbox_uid(self) -> int | None:
        if os.geteuid() != 0:
            return None
        return secrets.SystemRandom().randrange(*_UID_RANGE)

    def close(self) -> None:
        """Nothing is kept between executions but the staged worker files."""
        self._remove_stage()


def _stage_worker_files() -> Path:
    """World-readable copies of the stock worker, the ``athena`` module and boot.py."""
    base = "/tmp" if len(tempfile.gettempdir()) > 40 else tempfile.gettempdir()
    stage = Path(tempfile.mkdtemp(prefix="athena-srt-code-", dir=base))
    client = stage / "client"
    shutil.copytree(Path(athena_core.sandbox_client.__file__).parent, client,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(Path(athena_srt.__file__).parent / "boot.py", stage / "boot.py")
    for path in (stage, client, *stage.rglob("*")):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return stage


@attrs.define
class _RunDir:
    """The private directory of one execution, and the uid its sandbox runs as."""

    root: Path
    uid: int | None

    @classmethod
    def create(cls, uid: int | None) -> _RunDir:
        # srt puts unix sockets in srt_tmp: keep the path short (108-byte limit).
        base = "/tmp" if len(tempfile.gettempdir()) > 40 else tempfile.gettempdir()
        run = cls(Path(tempfile.mkdtemp(prefix="athena-srt-", dir=base)), uid)
        os.chmod(run.root, 0o711)
        for path in (run.srt_tmp, run.work):
            path.mkdir(mode=0o700)
            if uid is not None:
                os.chown(path, uid, uid)
        return run

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def srt_tmp(self) -> Path:
        return self.root / "srt"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    def write_settings(self, settings: dict[str, Any]) -> None:
        fd = os.open(self.settings, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(settings, fh, indent=1)
        if self.uid is not None:
            os.chown(self.settings, 0, self.uid)

    def drop_privileges(self) -> None:
        """Become the sandbox uid (in a child process, before exec)."""
        if self.uid is not None:
            os.setgroups([])
            os.setresgid(self.uid, self.uid, self.uid)
            os.setresuid(self.uid, self.uid, self.uid)

    def kill_processes(self) -> None:
        """Kill whatever still runs as the sandbox uid (it is used by nothing else)."""
        if self.uid is None:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pids = _pids_of(self.uid)
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        log.warning("processes of sandbox uid %d outlived the execution", self.uid)

    def remove(self) -> None:
        for _ in range(3):
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                return
            time.sleep(0.05)
        log.warning("could not remove %s", self.root)


def _explain_death(result: ExecutionResult, worker: Worker) -> ExecutionResult:
    """Say why a worker that sent no result died (srt's exit status is the inner shell's)."""
    if result.status != "killed" or result.error is None \
            or not result.error.message.startswith("the worker exited without a result"):
        return result
    code = worker.process.returncode
    limits = None
    if code is not None and code > 128:
        number = code - 128
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        if number == signal.SIGXCPU:
            limits = "its CPU time limit was reached"
        elif number == signal.SIGKILL:
            limits = "it was killed (SIGKILL: CPU or memory limit, or killed by itself)"
        else:
            limits = f"it died of signal {name}"
    why = (f"the program ended without a result: {limits}" if limits else
           f"the program ended without a result (srt exit status {code}; see stderr)")
    violations = (*result.violations[:-1], why) if result.violations else (why,)
    return attrs.evolve(result, error=ErrorInfo("Killed", why), violations=violations)


def _closed_to_others(path: Path, *, write: bool) -> str | None:
    """What an unrelated uid lacks to use ``path`` (only the "other" mode bits apply to it)."""
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return f"is inside {parent}, which other users cannot enter"
    mode = os.stat(path).st_mode
    need = stat.S_IROTH | (stat.S_IWOTH if write else 0)
    if stat.S_ISDIR(mode):
        need |= stat.S_IXOTH
    if mode & need != need:
        return f"is not {'writable' if write else 'readable'} by other users"
    return None


def _pids_of(uid: int) -> list[int]:
    """Processes whose real uid is ``uid`` (``/proc/PID`` of a non-dumpable one is root's)."""
    pids = []
    wanted = str(uid)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("State:") and line.split()[1] in ("Z", "X"):
                        break  # a zombie: dead already, waiting for its parent
                    if line.startswith("Uid:"):
                        if line.split()[1] == wanted:
                            pids.append(int(entry.name))
                        break
        except OSError:
            continue
    return pids


def _tasks_of(uid: int) -> int:
    """Processes and threads of ``uid``: what RLIMIT_NPROC counts."""
    count = 0
    for pid in _pids_of(uid):
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
                count += next((int(line.split()[1]) for line in fh
                               if line.startswith("Threads:")), 1)
        except (OSError, ValueError):
            continue
    return count
