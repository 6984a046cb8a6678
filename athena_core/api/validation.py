"""Argument checking against an operation's declared type hints.

The same checks run for a host application's call and, later, for a call that
arrives from a sandboxed program, so a wrong type always becomes an
:class:`~athena_core.errors.InvalidArgumentError` naming the operation, the
argument and what was expected. Timestamps given as ISO-8601 strings are
converted to aware datetimes, since that is how they travel as JSON.

What every argument must be whatever its type (valid Unicode without NUL, bounded
size and nesting) is checked before, by :mod:`athena_core.api.limits`.

:func:`check_fields` applies the same checks to the fields of a JSON object (a line of
an export file) declared by a value class's attributes (:func:`declared_fields`).
"""

from __future__ import annotations

import collections.abc as cabc
import functools
import types
import typing
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import attrs

from athena_core._time import as_utc
from athena_core.errors import InvalidArgumentError

__all__ = ["check_fields", "check_value", "declared_defaults", "declared_fields",
           "describe_type"]

#: How a JSON value is named in an error (the value itself is never quoted).
_JSON_KINDS = ((bool, "true or false"), (str, "a string"), (int, "an integer"),
               (float, "a number"), (list, "a list"), (dict, "an object"))

#: A UTF-16 surrogate code point, which only a wrongly decoded text can hold.


def check_value(operation: str, name: str, value: Any, kind: Any) -> Any:
    """Return ``value`` (converted if needed) if it matches ``kind``, else raise."""
    ok, converted = _match(value, kind)
    if not ok:  # the value's type only: the value itself may be memory content
        raise InvalidArgumentError(
            f"{operation}(): argument {name!r} must be {describe_type(kind)}, "
            f"not {type(value).__name__}."
        )
    return converted


@functools.cache
def declared_fields(cls: type, *, base: type | None = None) -> Mapping[str, Any]:
    """The stored attributes an attrs class declares, by name, with their resolved type
    hints (without those of ``base``, a class it extends, and those whose metadata says
    ``stored: False``, such as a listing's cursor)."""
    hints = typing.get_type_hints(cls)
    inherited = {a.name for a in attrs.fields(base)} if base is not None else set()
    return types.MappingProxyType(
        {a.name: hints[a.name] for a in attrs.fields(cls)
         if a.name not in inherited and a.metadata.get("stored", True)})


@functools.cache
def declared_defaults(cls: type, *, base: type | None = None) -> Mapping[str, Any]:
    """The default values of the attributes :func:`declared_fields` returns (those that
    have a plain default)."""
    names = declared_fields(cls, base=base)
    return types.MappingProxyType(
        {a.name: a.default for a in attrs.fields(cls)
         if a.name in names and a.default is not attrs.NOTHING
         and not isinstance(a.default, attrs.Factory)})  # type: ignore[arg-type]


def check_fields(values: Any, declared: Mapping[str, Any], *, name: str,
                 required: Collection[str] = ()) -> dict[str, Any]:
    """Check the JSON object ``values`` against ``declared`` field types; return the
    fields given, converted as :func:`check_value` converts arguments.

    A value that is not an object, an unknown field, a ``required`` one missing or a value
    of the wrong type raises :class:`InvalidArgumentError` whose message begins with the
    field's name (``<name>.<field>``, or the field alone if ``name`` is empty) and whose
    ``argument`` is that name. Values are never quoted: they may be memory content.
    """
    def qualified(field: str) -> str:
        return f"{name}.{field}" if name else field

    if not isinstance(values, cabc.Mapping):
        raise InvalidArgumentError(f"{name} must be an object, not {_json_kind(values)}.",
                                   argument=name)
    for field in values:
        if field not in declared:
            shown = field if len(field) <= 40 else field[:37] + "..."
            raise InvalidArgumentError(
                f"{qualified(shown)} is not a field of this record; the fields are "
                f"{', '.join(declared)}.", argument=qualified(shown))
    checked = {}
    for field, kind in declared.items():
        if field not in values:
            if field in required:
                raise InvalidArgumentError(f"{qualified(field)} is missing.",
                                           argument=qualified(field))
            continue
        ok, converted = _match(values[field], kind)
        if not ok:
            given = values[field]
            raise InvalidArgumentError(
                f"{qualified(field)} must be {describe_type(kind)}"
                + ("; the string given is not one." if isinstance(given, str)
                   else f", not {_json_kind(given)}."), argument=qualified(field))
        checked[field] = converted
    return checked


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return next((label for kind, label in _JSON_KINDS if isinstance(value, kind)),
                type(value).__name__)


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
        if value_kind is Any and key_kind in (str, Any):  # JSON metadata: keys only
            if key_kind is str and not all(isinstance(key, str) for key in value):
                return False, value
            return True, dict(value)
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
