"""Listings read page by page with cursors: ``episodic.timeline`` and ``semantic.facts``.

A listing is ordered by ``(time, key)``, so that entries with the same time still
have one order, and each entry it returns carries a *cursor*: an opaque string
naming its place. Passing an entry's cursor back gives the entries after it (a
keyset condition, not an offset), so a page never repeats or skips an entry, even
when many share a timestamp or entries are added in between.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import ColumnElement, and_, or_

from athena_core._time import isoformat
from athena_core.errors import InvalidArgumentError
from athena_core.storage.models import MemoryRow

__all__ = ["Listing"]

#: No cursor Athena writes is longer.
_MAX_CURSOR = 200


@attrs.frozen
class Listing:
    """One ordering of one listing operation (``name``), oldest or newest first."""

    name: str
    descending: bool = False

    def order_by(self) -> list[Any]:
        """The ``ORDER BY`` of the listing: time, then key, both the same way."""
        if self.descending:
            return [MemoryRow.valid_from.desc(), MemoryRow.pk.desc()]
        return [MemoryRow.valid_from.asc(), MemoryRow.pk.asc()]

    def after(self, cursor: str | None) -> list[ColumnElement[bool]]:
        """The condition for the entries after ``cursor`` (none for ``None``)."""
        if cursor is None:
            return []
        when, key = self._decode(cursor)
        if self.descending:
            return [or_(MemoryRow.valid_from < when,
                        and_(MemoryRow.valid_from == when, MemoryRow.pk < key))]
        return [or_(MemoryRow.valid_from > when,
                    and_(MemoryRow.valid_from == when, MemoryRow.pk > key))]

    def cursor(self, row: MemoryRow) -> str:
        """The cursor of ``row``'s place in this listing."""
        data = [self._tag, isoformat(row.valid_from), row.pk]
        text = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    @property
    def _tag(self) -> str:
        return f"{self.name}:{'desc' if self.descending else 'asc'}"

    def _decode(self, cursor: str) -> tuple[datetime, int]:
        problem = (f"{self.name}(): cursor {cursor[:40]!r} is not one this listing returned "
                   f"in this order; pass the cursor of the last entry of a page, with the "
                   f"same order.")
        if not isinstance(cursor, str) or not 0 < len(cursor) <= _MAX_CURSOR:
            raise InvalidArgumentError(problem)
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            tag, when, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
            moment = datetime.fromisoformat(when)
        except (ValueError, TypeError, binascii.Error, UnicodeError):
            raise InvalidArgumentError(problem) from None
        if tag != self._tag or moment.tzinfo is None or isinstance(key, bool) \
                or not isinstance(key, int) or not 0 <= key < 2 ** 63:
            raise InvalidArgumentError(problem)
        return moment, key
