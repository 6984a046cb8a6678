"""The bubblewrap command line for one policy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from athena_core.discovery.tree import SANDBOX_API_PATH
from athena_core.execution.policy import Policy

__all__ = ["CLIENT_DIR", "WORK_DIR", "sandbox_command"]

#: Where the stock worker and the ``athena`` module are mounted inside the sandbox.
CLIENT_DIR = "/athena/client"
#: The program's private, writable working directory.
WORK_DIR = "/work"
_PRIVATE_DIRS = ("/tmp", WORK_DIR)
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf",
              "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives", "/etc/mime.types")


def sandbox_command(policy: Policy, *, client_dir: Path, deny: list[Path], uid: int | None,
                    seccomp_fd: int | None, disk_bytes: int, api_tree: Path | None = None
                    ) -> list[str]:
    """``bwrap ... -- python3 -I worker.py`` for ``policy``.

    ``api_tree``: the API tree to mount read-only at ``SANDBOX_API_PATH``.

    ``uid``: run as this otherwise unused host uid (Athena runs as root; bubblewrap
    then sets up the namespaces itself and ``setpriv`` drops to ``uid``). ``None``:
    an unprivileged caller; a user namespace maps it to ``nobody``.
    """
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--hostname", "athena-sandbox", "--cap-drop", "ALL"]
    if uid is None:
        args += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    else:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--perms", "0755", "--dir", "/etc"]
    for path in _ETC_FILES:
        args += ["--ro-bind-try", path, path]
    # Private mounts first: Python or policy paths inside /tmp must stay visible on top.
    args += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev",
             "--size", str(disk_bytes), "--perms", "1777", "--tmpfs", "/tmp",
             "--size", str(disk_bytes), "--perms", "1777", "--tmpfs", WORK_DIR]
    for prefix in sorted({sys.base_prefix, sys.prefix}):
        if not prefix.startswith("/usr/"):
            args += [*_parents(prefix), "--ro-bind", prefix, prefix]
    args += [*_parents(CLIENT_DIR), "--ro-bind", str(client_dir), CLIENT_DIR]
    if api_tree is not None:
        args += ["--ro-bind", str(api_tree), SANDBOX_API_PATH]
    for path in policy.resolved_paths(policy.read_paths):
        args += [*_parents(str(path)), "--ro-bind", str(path), str(path)]
    for path in policy.resolved_paths(policy.write_paths):
        args += [*_parents(str(path)), "--bind", str(path), str(path)]
    for path in deny:  # masked even inside directories the policy mounts
        if _is_mounted(path, policy):
            args += (["--tmpfs", str(path)] if path.is_dir()
                     else ["--ro-bind", "/dev/null", str(path)])
    args += ["--chdir", WORK_DIR, "--clearenv",
             "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
             "--setenv", "HOME", WORK_DIR, "--setenv", "TMPDIR", "/tmp",
             "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             "--setenv", "PYTHONUNBUFFERED", "1"]
    for name in policy.env:
        if name in os.environ:
            args += ["--setenv", name, os.environ[name]]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args.append("--")
    if uid is not None:
        args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--"]
    # -u: -I ignores PYTHONUNBUFFERED, and output must reach the host's caps as it is written.
    return [*args, sys.executable, "-I", "-B", "-u", f"{CLIENT_DIR}/worker.py"]


def _parents(path: str) -> list[str]:
    """World-readable parents for a mount point (bubblewrap would create them 0700)."""
    out: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        parent = "/" + "/".join(parts[:i + 1])
        if parent not in _PRIVATE_DIRS:  # those are mounted already, world-writable
            out += ["--perms", "0755", "--dir", parent]
    return out


def _is_mounted(path: Path, policy: Policy) -> bool:
    mounted = [Path(sys.base_prefix), Path(sys.prefix), *policy.resolved_paths(policy.read_paths),
               *policy.resolved_paths(policy.write_paths)]
    return path.exists() and any(path == m or m in path.parents for m in mounted)
