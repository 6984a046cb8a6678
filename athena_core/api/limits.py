"""What the arguments of every operation may hold, beyond their types: declared once.

The dispatcher (:meth:`~athena_core.api.registry.OperationSpec.check`) checks every
argument of every call against these limits before its type and before the operation
runs, for every door alike (host API, sandboxed programs, MCP). So a value that one
database would store and another refuse - a NUL character (PostgreSQL text holds
none), a lone surrogate (not UTF-8), a string wider than its column (PostgreSQL
refuses, SQLite would store it), an integer beyond 64 bits (SQLite overflows) - is an
:class:`~athena_core.errors.InvalidArgumentError` naming the operation, the argument
and the limit, the same on SQLite and PostgreSQL, and never reaches a driver.

The rules every argument follows, at every depth of its value:

- strings are valid Unicode text (no lone surrogate) without NUL characters;
- numbers are finite; integers lie within the argument's range;
- dict keys are strings (arguments are JSON-shaped, as they travel over the bridge);
- lists and dicts nest at most ``max_depth`` levels and hold ``max_items`` items in
  all (each list item and each dict entry, at every depth, counts once);
- strings are at most ``max_chars`` characters, where the argument has that limit.

:data:`ARGUMENT_LIMITS` gives the limits of the arguments named there, in every
operation that has one of that name; every other argument has
:data:`DEFAULT_LIMITS`. An operation may declare its own with
``@operation(limits={...})``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from athena_core import _ids
from athena_core.errors import InvalidArgumentError
from athena_core.sandbox_client.frames import UNSENDABLE

__all__ = ["ARGUMENT_LIMITS", "DEFAULT_LIMITS", "ID_CHARS", "INT64", "NAME_CHARS", "TAG_CHARS",
           "ArgumentLimits", "check_limits"]

#: Integers are 64-bit (signed) unless an argument says otherwise.
INT64 = 2**63
#: Widths of the columns that arguments are stored in or compared with.
NAME_CHARS = 255  # scope, session, actor
TAG_CHARS = 64  # kind, outcome, layer
ID_CHARS = _ids.LENGTH  # memory ids


@attrs.frozen
class ArgumentLimits:
    """The limits of one argument's value (see the module's documentation)."""

    #: Longest string, in characters, anywhere in the value; ``None``: no limit here.
    max_chars: int | None = 10_000
    #: Smallest and largest integer anywhere in the value.
    min_int: int = -INT64
    max_int: int = INT64 - 1
    #: How deeply lists and dicts may nest (a flat list is 1).
    max_depth: int = 32
    #: List items and dict entries in all, at every depth.
    max_items: int = 10_000
    #: Why, for the documentation (the column a value is stored in, the setting).
    why: str = ""


#: The limits of every argument that :data:`ARGUMENT_LIMITS` does not name.
DEFAULT_LIMITS = ArgumentLimits()

#: Limits by argument name, for every operation with an argument of that name.
ARGUMENT_LIMITS: Mapping[str, ArgumentLimits] = {
    "scope": ArgumentLimits(max_chars=NAME_CHARS, why="the scope column's width"),
    "session": ArgumentLimits(max_chars=NAME_CHARS, why="the episodes' session column"),
    "actor": ArgumentLimits(max_chars=NAME_CHARS, why="the episodes' actor column"),
    "kind": ArgumentLimits(max_chars=TAG_CHARS, why="the episodes' kind column"),
    "outcome": ArgumentLimits(max_chars=TAG_CHARS, why="the episodes' outcome column"),
    "layer": ArgumentLimits(max_chars=TAG_CHARS, why="the memories' layer column"),
    "layers": ArgumentLimits(max_chars=TAG_CHARS, max_items=64, why="layer names"),
    "id": ArgumentLimits(max_chars=ID_CHARS, why="memory ids are 26 characters"),
    "ids": ArgumentLimits(max_chars=ID_CHARS, why="memory ids are 26 characters"),
    "text": ArgumentLimits(max_chars=None, why="bounded by [memory] max_text_bytes"),
    "content": ArgumentLimits(max_chars=None, why="bounded by [memory] max_text_bytes"),
    "query": ArgumentLimits(max_chars=None, why="bounded by [memory] max_text_bytes"),
    "code": ArgumentLimits(max_chars=1_000_000, why="a program"),
    "tests": ArgumentLimits(max_chars=1_000_000, why="a procedure's tests"),
    "metadata": ArgumentLimits(max_chars=64_000, why="stored metadata is at most 64,000 "
                                                     "bytes as JSON"),
    "context": ArgumentLimits(max_chars=64_000, why="stored as the episode's metadata"),
    "k": ArgumentLimits(min_int=1, max_int=1_000, why="results of one search"),
    "limit": ArgumentLimits(min_int=1, max_int=10_000, why="results of one listing"),
    "offset": ArgumentLimits(min_int=0, max_int=2**31 - 1, why="a 32-bit row offset"),
}


def check_limits(operation: str, name: str, value: Any, limits: ArgumentLimits) -> None:
    """Raise :class:`InvalidArgumentError` if ``value`` breaks ``limits`` or the rules
    every argument follows. Walks the value once, without recursion, and stops at the
    first container past the depth limit (so a circular value is refused, not followed)."""
    argument = f"{operation}(): argument {name!r}"
    items = 0
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        current, depth, path = stack.pop()
        where = f"{argument} at {path}" if path else argument
        if isinstance(current, str):
            _check_text(where, current, limits)
        elif isinstance(current, bool):
            continue
        elif isinstance(current, int):
            if not limits.min_int <= current <= limits.max_int:
                raise InvalidArgumentError(
                    f"{where} must be between {limits.min_int:,} and {limits.max_int:,}"
                    f"{_not(current)}.")
        elif isinstance(current, float):
            if not math.isfinite(current):
                raise InvalidArgumentError(f"{where} must be a finite number, not {current}.")
        elif isinstance(current, list | tuple | Mapping):
            if depth >= limits.max_depth:
                raise InvalidArgumentError(
                    f"{where} is nested more than {limits.max_depth} levels deep.",
                    hint="Flatten the value.")
            items += len(current)
            if items > limits.max_items:
                raise InvalidArgumentError(
                    f"{where} holds more than {limits.max_items:,} items (list items and dict "
                    "entries at every depth).", hint="Split the call into several.")
            if isinstance(current, Mapping):
                if UNSENDABLE in current:
                    raise InvalidArgumentError(
                        f"{where} holds a value the program could not send "
                        f"({str(current[UNSENDABLE])[:100]}).",
                        hint="Pass JSON data: strings, finite numbers, lists, and dicts "
                             "with string keys.")
                for key in current:
                    if not isinstance(key, str):
                        raise InvalidArgumentError(
                            f"{where} has a dict key of type {type(key).__name__}; keys must "
                            "be strings.")
                    _check_text(f"{where} (a key)", key, limits)
                stack.extend((member, depth + 1, f"{path}[{_shown(key)}]")
                             for key, member in current.items())
            else:
                stack.extend((member, depth + 1, f"{path}[{index}]")
                             for index, member in enumerate(current))


def _shown(key: str) -> str:
    """A dict key as a path names it: its repr (ASCII-safe), cut short if long."""
    return repr(key) if len(key) <= 40 else repr(key[:37]) + "..."


def _check_text(where: str, text: str, limits: ArgumentLimits) -> None:
    if limits.max_chars is not None and len(text) > limits.max_chars:
        raise InvalidArgumentError(
            f"{where} holds a string of {len(text):,} characters; the limit is "
            f"{limits.max_chars:,}.")
    if "\x00" in text:
        raise InvalidArgumentError(f"{where} contains a NUL character.",
                                   hint="Remove it; no database stores it in text.")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{where} is not valid Unicode text (lone surrogate at index {exc.start}).",
                hint="Decode bytes with errors='replace' before passing them.") from None


def _not(number: int) -> str:
    """``, not N`` for a number short enough to show, else its size in bits."""
    if abs(number) < 10**30:
        return f", not {number:,}"
    return f", not a {number.bit_length()}-bit integer"
