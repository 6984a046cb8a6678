"""The traceback a program's author reads: only the program's own frames (stdlib only).

Shared by the sandbox workers (the core one and the restrictedpython executor's): the
worker's frames and the ``athena`` module's say nothing to the author.
"""

from __future__ import annotations

import sys
import traceback

PROGRAM = "<program>"


def print_program_traceback(exc: BaseException, *, lookup_lines: bool = True) -> None:
    """Write ``exc``'s traceback to stderr, keeping only frames of ``PROGRAM`` (in its
    causes and contexts too). A program's exception may break formatting: then one line
    says so, and the worker still reports its result."""
    try:
        report = traceback.TracebackException.from_exception(exc, lookup_lines=lookup_lines)
        pending, seen = [report], set()
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            current.stack = traceback.StackSummary.from_list(
                [frame for frame in current.stack if frame.filename == PROGRAM])
            pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        sys.stderr.write("".join(report.format()))
    except Exception:
        print(f"{type(exc).__name__} (its traceback cannot be shown)", file=sys.stderr)
