"""What every worker does first, before it reads its program (stdlib only).

The host hands a worker the bridge socket as its standard input, or at the
number the socket has in the host, named on the worker's command line as
``--bridge-fd N`` (``supervisor.start_worker``): never at a fixed number, which
would have to be free, or even open, in the host (whose own descriptors may sit
at any number, and whose threads may open and close them meanwhile).
:func:`take_bridge` moves the bridge to :data:`BRIDGE_FD`, where programs (and
node, for JavaScript) expect it, and undoes what the host process may have left
behind.
"""

from __future__ import annotations

import os
import signal
import socket

__all__ = ["BRIDGE_FD", "bridge_fd", "take_bridge"]

BRIDGE_FD = 3
#: Python ignores these itself at start-up (and restores them in its children).
_PYTHON_IGNORES = frozenset({signal.SIGPIPE, signal.SIGXFSZ})


def bridge_fd(argv: list[str]) -> int:
    """The bridge's descriptor number: ``--bridge-fd N`` first in ``argv``, or stdin."""
    return int(argv[1]) if argv[:1] == ["--bridge-fd"] else 0


def take_bridge(fd: int) -> socket.socket:
    """The bridge, moved from ``fd`` to fd 3; ``/dev/null`` on stdin; nothing else open
    but stdout and stderr (a sandbox may pass its own set-up descriptors along); the
    host's ignored and blocked signals back to their defaults."""
    if fd != BRIDGE_FD:
        os.dup2(fd, BRIDGE_FD)
    if fd > BRIDGE_FD:
        os.close(fd)  # it may be above what closerange reaches
    os.closerange(BRIDGE_FD + 1, 4096)
    if fd == 0:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    _default_signals()
    return socket.socket(fileno=BRIDGE_FD)


def _default_signals() -> None:
    """Ignored and blocked signals survive exec: where the host ignores SIGCHLD, every
    child a program waits for would end with exit status 0 (it is reaped unseen), and
    a signal the host blocks would never reach the program."""
    for signum in signal.valid_signals():
        if signum in _PYTHON_IGNORES or signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(signum) == signal.SIG_IGN:
                signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):  # reserved by the C library
            continue
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
