"""Checking a procedure's inputs against its input schema before it runs.

The schemas are those :func:`~athena_core.procedures.model.schema_from_signature` writes
(an object schema of JSON types, ``enum``, ``anyOf``, ``items``, ``additionalProperties``),
so this checks exactly that subset of JSON Schema; an input that passes is a JSON value
the entry function's annotation accepts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from athena_core.errors import InvalidArgumentError

__all__ = ["check_inputs"]

_TYPES = {"string": "a string", "integer": "a whole number", "number": "a number",
          "boolean": "true or false", "null": "null", "array": "a list",
          "object": "an object with string keys"}


def check_inputs(procedure_id: str, schema: Mapping[str, Any],
                 inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` as a dict, if they fit ``schema``; else raise
    :class:`~athena_core.errors.InvalidArgumentError` whose ``argument`` names the input
    (a missing required one, an unknown one, or one of the wrong type)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name in inputs:
        if not isinstance(name, str) or name not in properties:
            known = ", ".join(properties) or "none"
            raise InvalidArgumentError(
                f"Procedure {procedure_id!r} has no input {str(name)[:64]!r} (its inputs: "
                f"{known}).", argument=str(name)[:64],
                hint="`athena.procedures.show(id)` gives its input schema.")
    for name in schema.get("required", ()):
        if name not in inputs:
            raise InvalidArgumentError(
                f"Procedure {procedure_id!r} needs the input {name!r}.", argument=name,
                hint="`athena.procedures.show(id)` gives its input schema.")
    for name, value in inputs.items():
        problem = _problem(properties[name], value)
        if problem is not None:
            raise InvalidArgumentError(
                f"Input {name!r} of procedure {procedure_id!r} must be {problem}.",
                argument=name, hint="`athena.procedures.show(id)` gives its input schema.")
    return dict(inputs)


def _problem(schema: Mapping[str, Any], value: Any) -> str | None:
    """What ``value`` should have been to fit ``schema``, or ``None`` if it fits."""
    if "enum" in schema:
        options = schema["enum"]
        if any(_same(value, option) for option in options):
            return None
        return "one of " + ", ".join(repr(option) for option in options)
    if "anyOf" in schema:
        problems = [_problem(option, value) for option in schema["anyOf"]]
        if any(problem is None for problem in problems):
            return None
        return " or ".join(str(problem) for problem in problems)
    kinds = schema.get("type")
    if kinds is None:
        return None if _json(value) else "a JSON value"
    for kind in [kinds] if isinstance(kinds, str) else kinds:
        if _is(kind, value) and _inner_problem(schema, kind, value) is None:
            return None
    listed = [kinds] if isinstance(kinds, str) else kinds
    for kind in listed:  # the right container with a wrong item: say which
        if _is(kind, value):
            return _inner_problem(schema, kind, value)
    return " or ".join(_TYPES.get(kind, kind) for kind in listed)


def _inner_problem(schema: Mapping[str, Any], kind: str, value: Any) -> str | None:
    if kind == "array" and "items" in schema:
        for item in value:
            problem = _problem(schema["items"], item)
            if problem is not None:
                return f"a list whose items are each {problem}"
    if kind == "object":
        values = schema.get("additionalProperties", {})
        for item in value.values():
            problem = _problem(values, item) if isinstance(values, Mapping) else None
            if problem is not None:
                return f"an object whose values are each {problem}"
    return None


def _is(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) \
            and math.isfinite(value)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if kind == "array":
        return isinstance(value, list | tuple)
    if kind == "object":
        return isinstance(value, Mapping) and all(isinstance(key, str) for key in value)
    return False


def _same(value: Any, option: Any) -> bool:
    """JSON equality for an ``enum``: ``True`` is not ``1``."""
    return type(value) is type(option) and value == option


def _json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_json(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and _json(item) for key, item in value.items())
    return False
