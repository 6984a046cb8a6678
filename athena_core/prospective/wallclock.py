"""Wall-clock times in an IANA zone and the instants they name, at clock changes too.

A local wall-clock reading (a naive ``datetime``) names zero, one or two instants in a
zone: zero in a gap (the clock jumped forward over it), two in a fold (the clock went
back and read it twice). The schedules choose what such a reading means:

* :func:`first_instant` - the first of the instants; in a gap, the first whole minute
  of wall-clock time after the gap (cron's fixed-time jobs and one-shot ``at``).
* :func:`rfc5545_instant` - RFC 5545, 3.3.5: the first of the instants; in a gap, the
  reading taken with the UTC offset before the gap, i.e. moved forward by the gap's
  length (RRULE).
* :func:`every_instant` - all of the instants, none in a gap (cron's wildcard jobs).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from athena_core.errors import UnknownTimeZoneError

__all__ = ["every_instant", "first_instant", "local", "rfc5545_instant", "zone"]

_MINUTE = timedelta(minutes=1)
#: Longer than any gap in the IANA database (Antarctica/Troll's is two hours).
_MAX_GAP = timedelta(hours=3)


@lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name`` (``Europe/Berlin``, ``UTC``); raises
    :class:`~athena_core.errors.UnknownTimeZoneError` naming what is accepted."""
    try:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(name)
        return zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError, OSError):
        raise UnknownTimeZoneError(
            f"Unknown time zone {str(name)[:80]!r}: a zone is an IANA name such as "
            "'Europe/Berlin', 'America/New_York', 'Asia/Kathmandu' or 'UTC'.",
            argument="zone") from None


def local(instant: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The wall-clock reading (naive) of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def every_instant(wall: datetime, tz: zoneinfo.ZoneInfo) -> tuple[datetime, ...]:
    """Each instant (UTC, in order) whose reading in ``tz`` is ``wall``: none in a gap,
    two in a fold."""
    found: list[datetime] = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if local(instant, tz) == wall and instant not in found:
            found.append(instant)
    return tuple(sorted(found))


def first_instant(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The first instant reading ``wall`` in ``tz``; in a gap, the first whole minute of
    wall-clock time after it."""
    candidate = wall
    while not (found := every_instant(candidate, tz)):
        candidate += _MINUTE
        if candidate - wall > _MAX_GAP:  # pragma: no cover - no such zone exists
            raise AssertionError(f"no instant reads {wall} within three hours in {tz}")
    return found[0]


def rfc5545_instant(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant RFC 5545 gives ``wall`` in ``tz``: the first occurrence in a fold, the
    offset before the gap in a gap."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
