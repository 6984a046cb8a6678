"""SQL building blocks shared by the layers and the retrievers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true

from athena_core.errors import InvalidArgumentError
from athena_core.retrieval.filters import RecallFilter
from athena_core.storage.models import MemoryRow

__all__ = ["memory_conditions", "metadata_conditions"]


def memory_conditions(where: RecallFilter) -> ColumnElement[bool]:
    """The SQL form of a :class:`RecallFilter` over ``memories``."""
    parts: list[ColumnElement[bool]] = [MemoryRow.scope == where.scope]
    if where.layers is not None:
        parts.append(MemoryRow.layer.in_(sorted(where.layers)))
    if where.as_of is None:
        parts.append(MemoryRow.valid_to.is_(None))
    else:
        parts.append(MemoryRow.valid_from <= where.as_of)
        parts.append(or_(MemoryRow.valid_to.is_(None), MemoryRow.valid_to > where.as_of))
    if where.since is not None:
        parts.append(MemoryRow.valid_from >= where.since)
    if where.until is not None:
        parts.append(MemoryRow.valid_from < where.until)
    if where.keys is not None:
        parts.append(MemoryRow.pk.in_(sorted(where.keys)))
    return and_(true(), *parts)


def metadata_conditions(wanted: Mapping[str, Any], column: Any = None) -> list[ColumnElement[bool]]:
    """Equality on top-level metadata keys (strings, numbers, booleans, null)."""
    column = MemoryRow.meta if column is None else column
    parts: list[ColumnElement[bool]] = []
    for key, value in wanted.items():
        element = column[key]
        if value is None:
            parts.append(element.as_string().is_(None))
        elif isinstance(value, bool):
            parts.append(element.as_boolean() == value)
        elif isinstance(value, int):
            parts.append(element.as_integer() == value)
        elif isinstance(value, float):
            parts.append(element.as_float() == value)
        elif isinstance(value, str):
            parts.append(element.as_string() == value)
        else:
            raise InvalidArgumentError(
                f"metadata filter {key!r}: only strings, numbers, booleans and null can be "
                f"matched, not {type(value).__name__}.")
    return parts


def matching_keys(session: Any, where: RecallFilter, wanted: Mapping[str, Any]) -> frozenset[int]:
    """Keys of memories matching ``where`` and the metadata filter ``wanted``."""
    query = select(MemoryRow.pk).where(memory_conditions(where), *metadata_conditions(wanted))
    return frozenset(session.scalars(query))
