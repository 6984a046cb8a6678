"""What a search may return: one scope, some layers, a point or range in time, a key set.

The same :class:`RecallFilter` is applied *inside* every retriever (full-text
SQL and each vector backend), never to a truncated top-k afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

__all__ = ["RecallFilter"]


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
    #: Only these internal keys (``None``: no restriction); set from metadata filters.
    keys: frozenset[int] | None = attrs.field(default=None, converter=_frozen_or_none)
