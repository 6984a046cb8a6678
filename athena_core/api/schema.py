"""JSON Schema of an operation's arguments, from its type hints.

What MCP clients are shown for each tool of ``athena serve --classic``. The hints
are the same ones :mod:`athena_core.api.validation` checks every call against, so
the schema only tells a client in advance what the operation would refuse anyway.
"""

from __future__ import annotations

import collections.abc as cabc
import inspect
import types
import typing
from datetime import datetime
from typing import Any

from athena_core.api.registry import Operation

__all__ = ["input_schema", "type_schema"]


def input_schema(op: Operation) -> dict[str, Any]:
    """``{"type": "object", "properties": ..., "required": ...}`` for ``op``'s parameters."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in op.signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        schema = type_schema(param.annotation)
        if param.default is param.empty:
            required.append(param.name)
        elif param.default is not None and _json_scalar(param.default):
            # (a default of null is what leaving the argument out means: not repeated)
            schema = {**schema, "default": param.default}
        properties[param.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def type_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of one type hint (``{}``, anything, where it has no JSON form)."""
    if kind is Any or kind is object or kind is inspect.Parameter.empty:
        return {}
    if kind is None or kind is type(None):
        return {"type": "null"}
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin is typing.Union or origin is types.UnionType:
        options = [type_schema(a) for a in args]
        if all(set(o) == {"type"} for o in options):  # str | None -> ["string", "null"]
            return {"type": [o["type"] for o in options]}
        return {"anyOf": options}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if kind is datetime:
        return {"type": "string", "format": "date-time"}
    if kind is bool:
        return {"type": "boolean"}
    if kind is int:
        return {"type": "integer"}
    if kind is float:
        return {"type": "number"}
    if kind is str:
        return {"type": "string"}
    if origin in (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection):
        return {"type": "array", **({"items": type_schema(args[0])} if args else {})}
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        values = type_schema(args[1]) if args else {}
        return {"type": "object", **({"additionalProperties": values} if values else {})}
    return {}


def _json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
