"""The restrictedpython executor: Python compiled by RestrictedPython, in a limited subprocess.

Defence in depth, not a security boundary: see the package README. Each program
runs in a fresh worker process started by Athena's supervisor (the same bridge,
wall-time limit, output cap and process-group kill as the OS sandboxes), with
rlimits, a scrubbed environment and a private temporary working directory that
is deleted afterwards. When Athena runs as root the worker drops to a fresh,
otherwise unused uid (so the process limit applies and root-only files stay
closed) with ``no_new_privs`` set.

The worker runs on the base interpreter (not a virtualenv's) in isolated mode
without ``site`` (no site-packages, no ``.pth`` files), from a world-readable
staged copy of its own files, Athena's sandbox client and RestrictedPython (pure
Python): an unprivileged uid can read neither a private virtualenv (tox makes
``.tox`` 0700) nor the host's other packages.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import athena_core.sandbox_client
from athena_core.execution.bridge import BridgeHost
from athena_core.execution.model import (
    ExecutionRequest,
    ExecutionResult,
    ExecutorBase,
    ExecutorContext,
    IsolationFeature,
)
from athena_core.execution.policy import Policy
from athena_core.execution.supervisor import (
    reachable_python,
    rlimit_setter,
    start_worker,
    supervise,
)

__all__ = ["RestrictedPythonExecutor"]

#: The RestrictedPython releases this plugin supports (the first with every fix it relies on).
REQUIREMENT = "RestrictedPython>=9.0,<10"
_MIN_MAJOR, _MAX_MAJOR = 9, 9
#: Host uids handed to workers when Athena runs as root (unused by real accounts).
_UID_RANGE = (1_100_000_000, 1_200_000_000)
_PR_SET_NO_NEW_PRIVS = 38
_SANDBOX_DIR = Path(__file__).parent / "sandbox"
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc")


class RestrictedPythonExecutor(ExecutorBase):
    """Runs Python programs compiled by RestrictedPython; see the README for its limits."""

    name = "restrictedpython"

    def __init__(self, context: ExecutorContext) -> None:
        super().__init__(context)
        self._client_dir = Path(athena_core.sandbox_client.__file__).parent
        self._interpreter = reachable_python()
        self._no_new_privs = _no_new_privs()
        #: Never opened by the worker, whatever the policy (Athena's own data).
        self._deny_extra = [str(context.data_dir.resolve())]
        self._stage_dir: Path | None = None
        self._lock = threading.Lock()

    # --- capability ------------------------------------------------------------------

    def _probe(self) -> str | None:
        from importlib import metadata

        try:
            version = metadata.version("RestrictedPython")
        except metadata.PackageNotFoundError:
            return f"RestrictedPython is not installed; install it: pip install '{REQUIREMENT}'"
        major = version.split(".", 1)[0]
        if not major.isdigit() or not _MIN_MAJOR <= int(major) <= _MAX_MAJOR:
            return (f"RestrictedPython {version} is installed, but this executor needs "
                    f"{REQUIREMENT}; install it: pip install '{REQUIREMENT}'")
        if _package_dir() is None:
            return f"RestrictedPython cannot be imported; reinstall it: pip install '{REQUIREMENT}'"
        return self._probe_worker()

    def _probe_worker(self) -> str | None:
        """Check that the worker's interpreter loads everything, as the worker's user."""
        uid = _fresh_uid() if os.geteuid() == 0 else None
        check = ("import sys; sys.path[:0] = sys.argv[1:]; "
                 "import RestrictedPython, athena_module, frames, guards, audit, worker")
        workdir = None
        try:
            stage = self._stage()
            workdir = _workdir(uid)
            probe = subprocess.run(
                [self._interpreter, "-I", "-S", "-B", "-c", check, str(stage / "worker"),
                 str(stage / "client"), str(stage / "lib")],
                preexec_fn=self._preexec(None, workdir, uid), env=_base_env(workdir),
                capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"the worker could not start: {exc}"
        finally:
            if uid is not None:
                _kill_uid(uid)
            if workdir is not None:
                _remove(workdir)
        if probe.returncode != 0:
            why = probe.stderr.decode(errors="replace").strip().splitlines()
            who = ("the unprivileged user workers run as when Athena runs as root"
                   if uid is not None else "the worker")
            return (f"{who} cannot load Python ({self._interpreter}) or RestrictedPython "
                    f"({why[-1] if why else f'exit status {probe.returncode}'}); make the "
                    "Python installation world-readable or run Athena as an ordinary user")
        return None

    def isolation(self) -> Mapping[str, IsolationFeature]:
        """What holds here: rlimits and, under root, a fresh uid; no OS sandbox."""
        feature = IsolationFeature
        if os.geteuid() == 0:
            uid = feature(True, f"a fresh, otherwise unused host uid per run ({_UID_RANGE[0]}-"
                                f"{_UID_RANGE[1] - 1}), no supplementary groups")
        else:
            uid = feature(False, f"the worker runs as the calling user (uid {os.getuid()}), "
                                 "with that user's rights")
        return {
            "os_sandbox": feature(False, "not an OS sandbox: RestrictedPython guards the "
                                         "program inside an ordinary host process (defence in "
                                         "depth; code that gets past it runs unconfined)"),
            "namespaces": feature(False, "none: the worker shares the host's mount, pid, "
                                         "network, ipc and uts namespaces"),
            "seccomp": feature(False, "no seccomp filter"),
            "uid": uid,
            "no_new_privs": (feature(True, "set on the worker") if self._no_new_privs
                             else feature(False, "prctl is not available here")),
            "rlimits": feature(True, "CPU time, memory, processes (RLIMIT_NPROC only), file "
                                     "size, open files; the host enforces wall time and "
                                     "output"),
            "network": feature(False, "no network isolation: programs are given no network "
                                      "module, which holds only as long as RestrictedPython "
                                      "does; policies allowing network domains are refused"),
            "filesystem": feature(False, "no filesystem isolation: programs get no open() "
                                         "and an audit hook (not a boundary) refuses most "
                                         "files; policies with read or write paths are "
                                         "refused"),
        }

    def refusals(self, policy: Policy, language: str) -> list[str]:
        reasons = []
        if language != "python":
            reasons.append(f"the restrictedpython executor runs only Python, not {language}; "
                           "use the bwrap or srt executor")
        if policy.network_domains:
            reasons.append("the restrictedpython executor has no network isolation and "
                           "cannot filter network access by domain "
                           f"({', '.join(policy.network_domains)}); use the srt executor")
        for rule, paths in (("read_paths", policy.read_paths),
                            ("write_paths", policy.write_paths)):
            if paths:
                reasons.append(f"the restrictedpython executor has no filesystem isolation "
                               f"and cannot enforce {rule} ({', '.join(paths)}); its "
                               "programs cannot open files at all; use the bwrap executor")
        return reasons

    # --- running ---------------------------------------------------------------------

    def run(self, request: ExecutionRequest, bridge: BridgeHost) -> ExecutionResult:
        stage = self._stage()
        uid = _fresh_uid() if os.geteuid() == 0 else None
        workdir = _workdir(uid)
        try:
            deny = [str(Path(p).expanduser().resolve()) for p in request.policy.deny_paths]
            command = [self._interpreter, "-I", "-S", "-B", "-u",
                       str(stage / "worker" / "worker.py"),
                       str(stage / "client"), str(stage / "lib"),
                       "--deny", *deny, *self._deny_extra]
            env = _base_env(workdir)
            env.update({name: os.environ[name] for name in request.policy.env
                        if name in os.environ})
            worker = start_worker(command, env=env,
                                  preexec=self._preexec(request.policy, workdir, uid))
            return supervise(worker, request, bridge, executor=self.name)
        finally:
            if uid is not None:
                _kill_uid(uid)  # anything that left the worker's process group
            _remove(workdir)

    def _stage(self) -> Path:
        """The world-readable copy of what the worker loads (made once per executor)."""
        with self._lock:
            if self._stage_dir is None or not self._stage_dir.is_dir():
                package = _package_dir()
                if package is None:
                    raise RuntimeError("RestrictedPython cannot be imported")
                self._stage_dir = _stage(self._client_dir, package)
            return self._stage_dir

    def _preexec(self, policy: Policy | None, workdir: Path, uid: int | None
                 ) -> Callable[[], None]:
        limits = None
        if policy is not None:
            # Unprivileged callers share RLIMIT_NPROC with their own processes: allow for
            # them. A fresh uid starts with none.
            extra = 0 if uid is not None else _processes_of(os.getuid())
            limits = rlimit_setter(policy.limits, processes=policy.limits.processes + extra)
        no_new_privs = self._no_new_privs

        def apply() -> None:
            os.chdir(workdir)
            if limits is not None:
                limits()
            if uid is not None:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            if no_new_privs is not None:
                no_new_privs()

        return apply

    def close(self) -> None:
        """Remove the staged files (every run starts and ends its own worker)."""
        with self._lock:
            if self._stage_dir is not None:
                _remove(self._stage_dir)
                self._stage_dir = None


def _package_dir() -> Path | None:
    """The installed ``RestrictedPython`` package directory."""
    from importlib.util import find_spec

    spec = find_spec("RestrictedPython")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent


def _stage(client_dir: Path, package: Path) -> Path:
    stage = Path(tempfile.mkdtemp(prefix="athena-restricted-stage-", dir=_shared_tmp()))
    try:
        shutil.copytree(_SANDBOX_DIR, stage / "worker", ignore=_SKIP)
        shutil.copytree(client_dir, stage / "client", ignore=_SKIP)
        shutil.copytree(package, stage / "lib" / package.name, ignore=_SKIP)
        for directory, _dirs, files in os.walk(stage):
            os.chmod(directory, 0o755)
            for name in files:
                os.chmod(os.path.join(directory, name), 0o644)
    except BaseException:
        _remove(stage)
        raise
    return stage


def _shared_tmp() -> str:
    """A temporary directory every uid can reach (``TMPDIR`` may be private to us)."""
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        path = Path(candidate)
        with contextlib.suppress(OSError):
            if path.is_dir() and all(p.stat().st_mode & stat.S_IXOTH
                                     for p in (path.resolve(), *path.resolve().parents)):
                return str(path)
    return tempfile.gettempdir()


def _workdir(uid: int | None) -> Path:
    """A fresh private working directory, owned by the worker's uid."""
    if uid is None:
        return Path(tempfile.mkdtemp(prefix="athena-restricted-"))
    workdir = Path(tempfile.mkdtemp(prefix="athena-restricted-", dir=_shared_tmp()))
    os.chown(workdir, uid, uid)
    return workdir


def _base_env(workdir: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir),
            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


def _fresh_uid() -> int:
    return secrets.SystemRandom().randrange(*_UID_RANGE)


def _no_new_privs() -> Callable[[], Any] | None:
    """``prctl(PR_SET_NO_NEW_PRIVS)`` for the child, resolved before any fork."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return lambda: prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _uids_processes(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _processes_of(uid: int) -> int:
    return len(_uids_processes(uid))


def _kill_uid(uid: int) -> None:
    """Kill every process of a per-run uid (it owns nothing else)."""
    for pid in _uids_processes(uid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _remove(path: Path) -> None:
    def retry(function: Any, target: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            function(target)

    shutil.rmtree(path, onerror=retry)
