"""The sandboxed worker: waits for one program, runs it, reports, exits.

Started inside the sandbox as ``python3 -I worker.py [--bridge-fd N]`` with the
bridge socket on file descriptor N (default: its standard input), which it
moves to file descriptor 3 (worker_setup.py). Protocol (frames.py): the host
sends one ``run`` frame; the worker answers every ``athena`` call with a ``call``
frame and waits for its ``reply``; finally it sends one ``result`` frame and
exits. A worker serves exactly one execution.
"""

from __future__ import annotations

import ast
import json
import linecache
import os
import socket
import subprocess
import sys
import traceback
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import athena_module
import frames
import tracebacks
import worker_setup

PROGRAM = "<program>"
_HERE = os.path.dirname(os.path.abspath(__file__))
#: How each language runs; JavaScript gets the `athena` module (athena.mjs) preloaded.
_INTERPRETERS = {
    "javascript": ["node", "--import", f"file://{_HERE}/athena.mjs", "program.mjs"],
    "bash": ["bash", "program.sh"],
}


def main() -> int:
    # Nothing but stdio and the bridge is handed to the program.
    sock = worker_setup.take_bridge(worker_setup.bridge_fd(sys.argv[1:]))
    try:
        run = frames.recv(sock, 64 << 20)
    except (frames.FrameError, OSError):
        return 2  # the host went away before giving us work
    if run.get("type") != "run":
        return 2
    language = run.get("language", "python")
    result = (_run_python(run, sock) if language == "python"
              else _run_external(run, language, sock))
    sys.stdout.flush()
    sys.stderr.flush()
    # Cut to what the host accepts (a value larger than the output limit: its start).
    sock.sendall(frames.encode_result(result, run.get("max_result_bytes", 64 << 20)))
    return 0


def _run_python(run: dict[str, Any], sock: socket.socket) -> dict[str, Any]:
    channel = athena_module.Channel(sock, run.get("max_reply_bytes", 16 << 20),
                                    run.get("max_call_bytes", 1 << 20))
    athena = athena_module.build(run.get("operations", []), channel, run.get("errors", []))
    sys.modules["athena"] = athena
    sys.modules["athena.errors"] = athena.errors
    code = run["code"]
    # As in JavaScript, `athena` is ready without an import (`import athena` gives it too).
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__,
                                 "athena": athena}
    try:
        tree = ast.parse(code, PROGRAM)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, PROGRAM, "exec"), namespace)
        value = eval(compile(last, PROGRAM, "eval"), namespace) if last is not None else None
    except SystemExit as exc:
        if exc.code in (None, 0):
            return {"value": None, "error": None}
        return {"value": None, "error": {"type": "SystemExit",
                                         "message": f"exit status {exc.code}", "line": None}}
    except BaseException as exc:  # the program's failure is a result, not a worker crash
        linecache.cache[PROGRAM] = (len(code), None, code.splitlines(True), PROGRAM)
        tracebacks.print_program_traceback(exc)
        return {"value": None, "error": {"type": type(exc).__name__, "message": _text(exc),
                                         "line": _program_line(exc)}}
    return {"value": _jsonable(value), "error": None}




def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a program's exception class may break str()
        return f"<{type(exc).__name__} that cannot be shown>"


def _run_external(run: dict[str, Any], language: str, sock: socket.socket) -> dict[str, Any]:
    command = _INTERPRETERS[language]
    with open(command[-1], "w", encoding="utf-8") as fh:
        fh.write(run["code"])
    sys.stdout.flush()
    env = dict(os.environ)
    bridge: tuple[int, ...] = ()
    if language == "javascript":  # node speaks the bridge itself while it runs
        operations = run.get("operations", [])
        env["ATHENA_OPERATIONS"] = json.dumps([op["name"] for op in operations
                                               if not op.get("refused")])
        env["ATHENA_REFUSED"] = json.dumps([op["name"] for op in operations
                                            if op.get("refused")])
        env["ATHENA_ERRORS"] = json.dumps(run.get("errors", []))
        env["ATHENA_LIMITS"] = json.dumps({
            "max_call_bytes": run.get("max_call_bytes", 1 << 20),
            "max_values": frames.MAX_VALUES, "max_depth": frames.MAX_DEPTH,
            "unsendable": frames.UNSENDABLE})
        bridge = (sock.fileno(),)
    status = subprocess.call(command, stdin=subprocess.DEVNULL, env=env, pass_fds=bridge)
    if status == 0:
        return {"value": None, "error": None}
    reason = f"exit status {status}" if status > 0 else f"killed by signal {-status}"
    return {"value": None, "error": {"type": "ProgramExit", "message": reason, "line": None}}


def _program_line(exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == PROGRAM:
        return exc.lineno
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == PROGRAM:
            line = lineno
    return line


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError, RecursionError):
        return {"repr": repr(value)[:10_000]}


if __name__ == "__main__":
    sys.exit(main())
