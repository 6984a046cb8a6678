"""The restrictedpython executor's worker: one program, compiled by RestrictedPython.

Started as ``python -I -S -B -u worker.py CLIENT_DIR [PATH ...] [--deny DENIED ...]``
with the bridge socket as its standard input (moved to file descriptor 3 by the
client's ``worker_setup.py``). ``CLIENT_DIR`` is Athena's sandbox
client (the ``athena`` module and the frame protocol); each ``PATH`` is put at the
front of ``sys.path`` (where RestrictedPython is); the audit hook never lets
files under a ``DENIED`` path be opened. It speaks the stock worker's
protocol (``athena_core/sandbox_client/worker.py``): the host sends one ``run``
frame; every ``athena`` call is a ``call`` frame answered by a ``reply``; the
worker ends with one ``result`` frame and exits.
"""

from __future__ import annotations

import json
import linecache
import os
import sys
import traceback
from typing import Any

PROGRAM = "<program>"
_HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str]) -> int:
    args = argv[1:]
    split = args.index("--deny") if "--deny" in args else len(args)
    (client_dir, *extra), deny = args[:split], args[split + 1:]
    sys.path[:0] = [_HERE, client_dir, *extra]  # first: the staged copies win
    import athena_module
    import audit
    import frames
    import guards
    import tracebacks  # noqa: F401  (for _print_traceback, before arming)
    import worker_setup

    sock = worker_setup.take_bridge(0)
    guards.preload()
    try:
        run = frames.recv(sock, 64 << 20)
    except (frames.FrameError, OSError):
        return 2  # the host went away before giving us work
    if run.get("type") != "run":
        return 2
    language = run.get("language", "python")
    if language != "python":
        result: dict[str, Any] = {"value": None, "error": {
            "type": "UnsupportedLanguage", "line": None,
            "message": f"the restrictedpython executor runs Python only, not {language}"}}
    else:
        channel = athena_module.Channel(sock, run.get("max_reply_bytes", 16 << 20))
        athena = athena_module.build(run.get("operations", []), channel, run.get("errors", []))
        roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                 *sys.path]
        result = _run(str(run.get("code", "")), guards, lambda: audit.arm(roots, deny), athena)
    sys.stdout.flush()
    sys.stderr.flush()
    # Cut to what the host accepts (a value larger than the output limit: its start).
    sock.sendall(frames.encode_result(result, run.get("max_result_bytes", 64 << 20)))
    return 0


def _run(code: str, guards: Any, arm: Any, athena: Any) -> dict[str, Any]:
    linecache.cache[PROGRAM] = (len(code), None, code.splitlines(True), PROGRAM)
    try:
        body, tail = guards.compile_program(code, PROGRAM)
    except SyntaxError as exc:  # invalid Python, or refused by RestrictedPython
        message = exc.msg or "invalid syntax"
        print(f"{type(exc).__name__}: {message}", file=sys.stderr)
        return {"value": None, "error": {"type": type(exc).__name__, "message": message,
                                         "line": exc.lineno}}
    except ValueError as exc:  # e.g. NUL bytes in the source
        return {"value": None, "error": {"type": "SyntaxError", "message": str(exc),
                                         "line": None}}
    namespace = guards.restricted_globals(athena)
    arm()
    try:
        exec(body, namespace)
        value = eval(tail, namespace) if tail is not None else None
    except SystemExit as exc:
        if exc.code in (None, 0):
            return {"value": None, "error": None}
        return {"value": None, "error": {"type": "SystemExit",
                                         "message": f"exit status {exc.code}", "line": None}}
    except BaseException as exc:  # the program's failure is a result, not a worker crash
        _print_traceback(exc)
        return {"value": None, "error": {"type": type(exc).__name__, "message": _text(exc),
                                         "line": _program_line(exc)}}
    return {"value": _jsonable(value), "error": None}


def _print_traceback(exc: BaseException) -> None:
    """The traceback, showing only the program's own frames (not the worker's)."""
    import tracebacks  # loaded by main() before the audit hook was armed

    tracebacks.print_program_traceback(exc, lookup_lines=False)


def _program_line(exc: BaseException) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == PROGRAM:
            line = lineno
    return line


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a program's exception class may break str()
        return f"<{type(exc).__name__} that cannot be shown>"


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError, RecursionError):
        try:
            return {"repr": repr(value)[:10_000]}
        except Exception:
            return {"repr": f"<unrepresentable {type(value).__name__}>"}


if __name__ == "__main__":
    status = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # no interpreter shutdown: nothing of the program runs after its result
