"""A last line inside the worker: an audit hook armed just before the program runs.

Code that got past RestrictedPython would run as ordinary Python in this process.
The hook refuses, with ``PermissionError``, what such code would reach for:
starting or signalling processes, sockets and name lookups, native code (ctypes),
the garbage collector's object graph, opening files other than read-only ones
inside the Python installation, and every other ``os.*`` audit event (file
changes, ``os.system``, ``exec*``, ``fork``, ``kill``). An audit hook cannot be
removed, but it is no boundary either: Python's documentation says as much, and
code running in the same interpreter has other ways around it.

Stdlib only: this runs in the worker process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["arm"]

_DENIED_PREFIXES = ("os.", "subprocess.", "socket.", "ctypes.", "gc.", "resource.",
                    "shutil.", "signal.", "fcntl.", "mmap.", "syslog.", "sqlite3.",
                    "urllib.", "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.",
                    "nntplib.", "telnetlib.", "webbrowser.", "pty.", "_posixsubprocess.")
_DENIED_EVENTS = frozenset({"code.__new__", "function.__new__", "builtins.input",
                            "builtins.breakpoint", "sys.settrace", "sys.setprofile",
                            "sys._current_frames", "sys.remote_exec"})
#: ``os.*`` events the import machinery needs (only under the Python installation).
_LISTING_EVENTS = frozenset({"os.listdir", "os.scandir"})
_DENIED_IMPORTS = frozenset({"ctypes", "_ctypes", "subprocess", "_posixsubprocess",
                             "multiprocessing", "_multiprocessing", "pty", "mmap", "ssl",
                             "_ssl", "fcntl", "resource", "termios", "pickle", "_pickle",
                             "marshal", "gc", "inspect", "importlib.util", "shutil",
                             "tempfile", "socketserver", "asyncio", "threading", "_thread",
                             "signal", "sqlite3", "urllib.request", "http.client"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _path(value: Any) -> str | None:
    try:
        return os.path.realpath(os.fsdecode(value))
    except (TypeError, ValueError):
        return None


def _prefixes(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({os.path.join(p, "") for r in paths if (p := _path(r))} - {os.sep}))


def arm(roots: Iterable[str], deny: Iterable[str] = ()) -> None:
    """Add the hook; files may be read only inside ``roots`` and never inside ``deny``."""
    allowed, denied = _prefixes(roots), _prefixes(deny)

    def readable(target: Any) -> bool:
        path = _path(target)
        if path is None:
            return False
        path += os.sep
        return path.startswith(allowed) and not (denied and path.startswith(denied))

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            target, _mode, flags = args
            if isinstance(target, int) and not isinstance(target, bool):
                return  # an already open descriptor (stdio or the bridge)
            if isinstance(flags, int) and not flags & _WRITE_FLAGS and readable(target):
                return
            raise PermissionError(f"opening {target!r} is not allowed in the restricted "
                                  "executor")
        if event == "import":
            name = str(args[0])
            if name in _DENIED_IMPORTS or name.split(".", 1)[0] in _DENIED_IMPORTS:
                raise PermissionError(f"importing {name} is not allowed in the restricted "
                                      "executor")
            return
        if event in _LISTING_EVENTS:
            if args and args[0] is not None and readable(args[0]):
                return
        elif not (event in _DENIED_EVENTS or event.startswith(_DENIED_PREFIXES)):
            return
        raise PermissionError(f"{event} is not allowed in the restricted executor")

    sys.addaudithook(hook)
