"""``ast.parse``, one thread at a time.

CPython 3.11 keeps the AST constructor's recursion depth in state shared by the threads
of an interpreter, so two threads parsing at once can fail with ``SystemError: AST
constructor recursion depth mismatch`` (python/cpython#106905). Athena parses on the
host from several threads at once (concurrent executions' static checks, API trees
built by parallel MCP sessions, the procedure gate), so every host-side parse goes
through :func:`parse_python`, which holds one lock around it.
"""

from __future__ import annotations

import ast
import threading
from typing import Literal, overload

__all__ = ["parse_python"]

_LOCK = threading.Lock()


@overload
def parse_python(source: str | bytes, filename: str = "<unknown>") -> ast.Module: ...


@overload
def parse_python(source: str | bytes, filename: str = "<unknown>", *,
                 mode: Literal["eval"]) -> ast.Expression: ...


def parse_python(source: str | bytes, filename: str = "<unknown>", *,
                 mode: Literal["exec", "eval"] = "exec") -> ast.Module | ast.Expression:
    """:func:`ast.parse` of ``source`` (``mode`` ``exec`` or ``eval``) under the lock."""
    with _LOCK:
        if mode == "eval":
            return ast.parse(source, filename, mode="eval")
        return ast.parse(source, filename)
