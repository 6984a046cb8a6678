"""What a search may return: one scope, some layers, a point or range in time, and the
memories' metadata and episode fields.

The same :class:`RecallFilter` is applied *inside* every retriever (full-text
SQL and each vector backend), never to a truncated top-k afterwards, and always
as SQL conditions on the memory tables (``athena_core.storage.queries``), never
as a list of the keys it matches.

The metadata filter syntax is declared here, once (:class:`MetadataFilter`); every
operation that takes a metadata filter (``recall``, ``forget``, ``semantic.facts``,
``episodic.timeline`` and ``episodic.search`` as ``context``) parses it with
:meth:`MetadataFilter.parse`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from athena_core.errors import InvalidArgumentError

__all__ = ["OPERATORS", "MetadataCondition", "MetadataFilter", "RecallFilter"]

#: The operators of a metadata filter, and what each one's operand must be:
#:
#: * ``{"key": value}`` (no operator): the value at ``key`` equals ``value`` (a string,
#:   number, boolean, or ``None`` for "null or missing");
#: * ``in``: a list of such values; the value at ``key`` is one of them;
#: * ``contains``: a string, number or boolean; the value at ``key`` is a list holding it;
#: * ``gt``, ``gte``, ``lt``, ``lte``: a number or a string; the value at ``key`` is of
#:   the same kind and greater (or equal, or less) — numbers by value, strings by code
#:   point (so ISO-8601 dates compare in time order).
#:
#: Several operators on one key must all hold; several keys too.
OPERATORS: Mapping[str, str] = {
    "in": "a list of strings, numbers, booleans or nulls",
    "contains": "a string, a number or a boolean",
    "gt": "a number or a string",
    "gte": "a number or a string",
    "lt": "a number or a string",
    "lte": "a number or a string",
}
_RANGES = ("gt", "gte", "lt", "lte")
Scalar = str | int | float | bool | None


@attrs.frozen
class MetadataCondition:
    """One condition on a top-level metadata key: ``operator`` is ``"eq"`` (equality,
    ``None`` meaning null or missing) or one of :data:`OPERATORS`."""

    key: str
    operator: str
    #: A scalar, or for ``in`` a tuple of scalars.
    value: Any


@attrs.frozen
class MetadataFilter:
    """A checked metadata filter: conditions that must all hold."""

    conditions: tuple[MetadataCondition, ...] = ()

    @classmethod
    def parse(cls, wanted: Mapping[str, Any] | None, *, name: str = "metadata"
              ) -> MetadataFilter:
        """Check a filter as the API takes it (see :data:`OPERATORS`); raise
        :class:`~athena_core.errors.InvalidArgumentError` naming the key and the allowed
        operators when its shape is wrong."""
        if wanted is None:
            return cls()
        if not isinstance(wanted, Mapping):
            raise InvalidArgumentError(
                f"{name} filter must be a mapping of keys to values, not "
                f"{type(wanted).__name__}.")
        conditions: list[MetadataCondition] = []
        for key, value in wanted.items():
            if not isinstance(key, str):
                raise InvalidArgumentError(
                    f"{name} filter key {key!r}: keys are strings, not {type(key).__name__}.")
            _check_text(name, key, key)
            if isinstance(value, Mapping):
                conditions += _operator_conditions(name, key, value)
            else:
                conditions.append(MetadataCondition(key, "eq", _scalar(name, key, None, value)))
        return cls(tuple(conditions))

    def __bool__(self) -> bool:
        return bool(self.conditions)


def _usage(name: str, key: str) -> str:
    listed = "; ".join(f"{op!r}: {what}" for op, what in OPERATORS.items())
    return (f"{name} filter {key!r} takes a string, number, boolean or null to match "
            f"exactly, or a mapping of operators to operands ({listed}).")


def _operator_conditions(name: str, key: str, operators: Mapping[Any, Any]
                         ) -> list[MetadataCondition]:
    if not operators:
        raise InvalidArgumentError(f"{name} filter {key!r} has an empty mapping. "
                                   + _usage(name, key))
    conditions = []
    kinds = set()
    for operator, operand in operators.items():
        if operator not in OPERATORS:
            raise InvalidArgumentError(f"{name} filter {key!r}: unknown operator "
                                       f"{operator!r}. " + _usage(name, key))
        if operator == "in":
            if not isinstance(operand, list | tuple):
                raise InvalidArgumentError(
                    f"{name} filter {key!r}: 'in' takes a list of strings, numbers, "
                    f"booleans or nulls, not {type(operand).__name__}.")
            value: Any = tuple(_scalar(name, key, operator, item) for item in operand)
        elif operator == "contains":
            value = _scalar(name, key, operator, operand)
            if value is None:
                raise InvalidArgumentError(
                    f"{name} filter {key!r}: 'contains' takes a string, a number or a "
                    f"boolean, not null.")
        else:
            value = _scalar(name, key, operator, operand)
            if value is None or isinstance(value, bool):
                raise InvalidArgumentError(
                    f"{name} filter {key!r}: {operator!r} takes a number or a string, "
                    f"not {type(value).__name__}.")
            kinds.add("string" if isinstance(value, str) else "number")
        conditions.append(MetadataCondition(key, operator, value))
    if len(kinds) > 1:
        raise InvalidArgumentError(
            f"{name} filter {key!r} compares with both a number and a string; a value is "
            f"one or the other, so nothing could match.")
    return conditions


def _scalar(name: str, key: str, operator: str | None, value: Any) -> Scalar:
    where = f"{name} filter {key!r}" + (f" {operator!r}" if operator else "")
    if value is not None and not isinstance(value, bool | int | float | str):
        advice = (" To match any of several values use {'in': [...]}; to find a value in a "
                  "list use {'contains': value}." if isinstance(value, list | tuple)
                  and operator is None else "")
        raise InvalidArgumentError(
            f"{where}: only strings, numbers, booleans and null can be matched, not "
            f"{type(value).__name__}.{advice} " + _usage(name, key))
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgumentError(f"{where}: {value!r} is not a JSON number.")
    if isinstance(value, str):
        _check_text(name, key, value)
    return value


def _check_text(name: str, key: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            f"{name} filter {key!r} is not valid Unicode text (lone surrogate).") from None
    if "\x00" in text:  # PostgreSQL can hold no NUL in text (nor in jsonb)
        raise InvalidArgumentError(f"{name} filter {key!r} contains a NUL character.")


def _frozen_or_none(value: Iterable[object] | None) -> frozenset | None:  # type: ignore[type-arg]
    return None if value is None else frozenset(value)


@attrs.frozen
class RecallFilter:
    """Which memories a search may return."""

    #: The one scope searched.
    scope: str
    #: Only these layers (``None``: every layer).
    layers: frozenset[str] | None = attrs.field(default=None, converter=_frozen_or_none)
    #: What was valid at this time; ``None``: what is valid now (not superseded).
    as_of: datetime | None = None
    #: Only memories whose ``valid_from`` (event time for episodes) is at or after this.
    since: datetime | None = None
    #: Only memories whose ``valid_from`` is before this.
    until: datetime | None = None
    #: Only these internal keys (``None``: no restriction). Athena itself no longer sets
    #: it (filters are SQL conditions); kept for callers that restrict a search to keys.
    keys: frozenset[int] | None = attrs.field(default=None, converter=_frozen_or_none)
    #: Only memories whose metadata (an episode's context) passes this filter.
    metadata: MetadataFilter = attrs.field(factory=MetadataFilter)
    #: Only episodes of this session.
    session: str | None = None
    #: Only episodes by this actor.
    actor: str | None = None
    #: Only episodes of this kind.
    kind: str | None = None

    @property
    def by_attributes(self) -> bool:
        """Whether the filter looks at more than a vector backend entry holds (scope,
        layer, validity, key): a memory's metadata or an episode's fields."""
        return bool(self.metadata) or any(
            value is not None for value in (self.session, self.actor, self.kind))

    def without_attributes(self) -> RecallFilter:
        """The part of the filter every vector backend applies itself."""
        return RecallFilter(self.scope, layers=self.layers, as_of=self.as_of,
                            since=self.since, until=self.until, keys=self.keys)
