"""Exclusive locks on files, held across processes (``fcntl.flock``)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["file_lock", "held", "open_lock"]


def open_lock(path: Path) -> int:
    """A descriptor of lock file ``path``, made 0600 (in a 0700 directory) if missing."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def held(descriptor: int) -> Iterator[None]:
    """Hold an exclusive lock on ``descriptor`` for the block, then close it."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def file_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock on ``path`` for the block (see :func:`open_lock`)."""
    return held(open_lock(path))
