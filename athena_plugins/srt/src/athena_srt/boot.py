"""First program inside the srt sandbox: applies the boot frame, then becomes the worker.

The host starts every worker with the bridge socket as its standard input (srt's
command-line tool marks every inherited descriptor above stderr close-on-exec,
so nothing else would reach the sandbox); srt, bubblewrap and the shells in
between pass stdin through untouched. This script (stdlib only, run as
``python3 -I -B boot.py WORKER``)

1. reads one ``boot`` frame from the bridge: the program's environment, its
   working directory and its resource limits;
2. applies the limits, so they count only the program's own processes;
3. replaces itself with ``python3 -I -B WORKER``, which, as in every other
   executor, moves the bridge from stdin to fd 3 and reads the ``run`` frame.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys

_HEADER = struct.Struct(">I")
_MAX_BOOT_FRAME = 1 << 20
#: Variables srt's launch environment or the shells in between set: never the program's.
_NOT_FROM_SRT = frozenset({"PATH", "HOME", "TMPDIR", "LANG", "SHLVL", "PWD", "OLDPWD", "_",
                           "CLAUDE_CODE_TMPDIR", "CLAUDE_TMPDIR"})
_LIMITS = {"cpu": resource.RLIMIT_CPU, "data": resource.RLIMIT_DATA,
           "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE,
           "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE}


def _exactly(fd: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            raise EOFError("the host closed the bridge before sending the boot frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_boot_frame(fd: int) -> dict:
    """One length-prefixed JSON frame, read byte-exactly (the ``run`` frame follows it)."""
    (length,) = _HEADER.unpack(_exactly(fd, _HEADER.size))
    if length > _MAX_BOOT_FRAME:
        raise ValueError(f"boot frame of {length} bytes is too large")
    frame = json.loads(_exactly(fd, length).decode("utf-8"))
    if not isinstance(frame, dict) or frame.get("type") != "boot":
        raise ValueError("the first frame on the bridge is not a boot frame")
    return frame


def program_env(frame: dict, inherited: dict[str, str]) -> dict[str, str]:
    """The program's environment: the host's choice, plus srt's proxy settings if networked."""
    env = {str(k): str(v) for k, v in frame["env"].items()}
    if frame.get("network"):
        env.update({k: v for k, v in inherited.items()
                    if k not in _NOT_FROM_SRT and not k.startswith("CLAUDE_CODE_")})
    return env


def main() -> None:
    worker = sys.argv[1]
    os.set_blocking(0, True)
    frame = read_boot_frame(0)
    env = program_env(frame, dict(os.environ))
    os.chdir(frame["cwd"])
    for name, (soft, hard) in frame["limits"].items():
        _, current = resource.getrlimit(_LIMITS[name])
        # Only ever lower: the host set looser limits that srt itself had to fit under.
        if current != resource.RLIM_INFINITY:
            hard = min(int(hard), current)
        resource.setrlimit(_LIMITS[name], (min(int(soft), int(hard)), int(hard)))
    os.execve(sys.executable, [sys.executable, "-I", "-B", worker], env)


if __name__ == "__main__":
    main()
