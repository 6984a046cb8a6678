"""Argument checking against an operation's declared type hints.

The same checks run for a host application's call and, later, for a call that
arrives from a sandboxed program, so a wrong type always becomes an
:class:`~athena_core.errors.InvalidArgumentError` naming the operation, the
argument and what was expected. Timestamps given as ISO-8601 strings are
converted to aware datetimes, since that is how they travel as JSON.
"""

from __future__ import annotations

import collections.abc as cabc
import types
import typing
from datetime import datetime
from typing import Any

from athena_core._time import as_utc
from athena_core.errors import InvalidArgumentError

__all__ = ["check_value", "describe_type"]


def check_value(operation: str, name: str, value: Any, kind: Any) -> Any:
    """Return ``value`` (converted if needed) if it matches ``kind``, else raise."""
    ok, converted = _match(value, kind)
    if not ok:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InvalidArgumentError(
            f"{operation}(): argument {name!r} must be {describe_type(kind)}, "
            f"not {type(value).__name__} ({shown})."
        )
    return converted


def _match(value: Any, kind: Any) -> tuple[bool, Any]:
    if kind is Any or kind is object:
        return True, value
    if kind is None or kind is type(None):
        return value is None, value
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin is typing.Union or origin is types.UnionType:
        for option in args:
            ok, converted = _match(value, option)
            if ok:
                return True, converted
        return False, value
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args), value
    if kind is datetime:
        if isinstance(value, datetime | str):
            try:
                return True, as_utc(value)
            except InvalidArgumentError:
                return False, value
        return False, value
    if kind is bool:
        return isinstance(value, bool), value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False, value
        try:
            return True, float(value)
        except OverflowError:  # an integer beyond any float
            return False, value
    if kind is str:
        return isinstance(value, str), value
    if origin in (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection):
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            return False, value
        item = args[0] if args else Any
        out = []
        for element in value:
            ok, converted = _match(element, item)
            if not ok:
                return False, value
            out.append(converted)
        return True, tuple(out) if origin is tuple else out
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        if not isinstance(value, cabc.Mapping):
            return False, value
        key_kind, value_kind = args if args else (Any, Any)
        out_map = {}
        for key, element in value.items():
            ok_key, _ = _match(key, key_kind)
            ok_value, converted = _match(element, value_kind)
            if not (ok_key and ok_value):
                return False, value
            out_map[key] = converted
        return True, out_map
    if isinstance(kind, type):
        return isinstance(value, kind), value
    return True, value  # an annotation we cannot check (a Protocol, a TypeVar)


def describe_type(kind: Any) -> str:
    """A short human (and agent) readable name for a type hint."""
    if kind is Any:
        return "any value"
    if kind is None or kind is type(None):
        return "None"
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(describe_type(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if kind is datetime:
        return "a datetime or ISO-8601 string"
    if origin in (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection):
        return f"a list of {_plural(describe_type(args[0])) if args else 'values'}"
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        keys = " with string keys" if args and args[0] is str else ""
        values = f" of {_plural(describe_type(args[1]))}" if args and args[1] is not Any else ""
        return f"a dict{keys}{values}"
    if isinstance(kind, type):
        return {"str": "a string", "int": "an integer", "float": "a number",
                "bool": "true or false"}.get(kind.__name__, kind.__name__)
    return str(kind)


def _plural(description: str) -> str:
    article, _, rest = description.partition(" ")
    return f"{rest}s" if article in ("a", "an") and " " not in rest else description
