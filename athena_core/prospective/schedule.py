"""Time triggers: when each fires, as instants, in an IANA zone.

Four kinds, each parsed from what a caller gives into a canonical spec (a JSON dict
stored with the trigger) and evaluated here with :meth:`Schedule.next_after`:

* ``at`` - once: an ISO instant with an offset (``2026-12-07T18:00:00Z``), a wall-clock
  time in the trigger's zone (``2026-12-07T18:00``), or ``in 45 minutes`` (minutes,
  hours, days, weeks).
* ``every`` - ``45 minutes`` or ``2 hours`` counts elapsed time from the start;
  ``3 days`` or ``2 weeks`` keeps the start's wall-clock time (it is an RRULE
  ``FREQ=DAILY;INTERVAL=3``, with the RRULE's rule at clock changes).
* ``cron`` - five fields (:mod:`athena_core.prospective.cron`).
* ``rrule`` - RFC 5545 subset (:mod:`athena_core.prospective.rrule`), from ``start``.

Clock changes (see :mod:`athena_core.prospective.wallclock`): ``at`` and fixed-time
cron fire a wall-clock time that does not exist at the first minute after the gap, and
a repeated one at its first occurrence; RRULE follows RFC 5545 (a time in a gap is
moved forward by the gap's length, a repeated one is its first occurrence); cron with
``*`` in the minute or hour field fires at each instant whose reading matches. In every
kind, two occurrences that land on the same instant fire once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from athena_core.errors import ScheduleError, TriggerInPastError
from athena_core.prospective import wallclock
from athena_core.prospective.cron import CronExpression
from athena_core.prospective.rrule import RecurrenceRule

__all__ = ["KINDS", "Schedule", "parse_duration"]

KINDS = ("at", "every", "cron", "rrule")
#: How far a wall-clock reading's instant may sit from its order among readings, at most.
_SLACK = timedelta(hours=3)
#: Offsets are sampled this often to see whether they change, over at most this long.
_SAMPLE = timedelta(minutes=30)
_LONG = timedelta(days=2)
_UNITS = {"minute": 60, "minutes": 60, "min": 60, "m": 60, "hour": 3600, "hours": 3600,
          "h": 3600, "day": 86400, "days": 86400, "d": 86400, "week": 604800,
          "weeks": 604800, "w": 604800}
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([a-z]+)\s*$")
_DURATION_HELP = "a whole number and a unit: '45 minutes', '2 hours', '3 days', '1 week'"


def parse_duration(text: str, *, argument: str) -> tuple[int, str]:
    """``(count, unit)`` of ``'45 minutes'`` (unit: minute, hour, day or week)."""
    match = _DURATION.match(str(text).lower()) if isinstance(text, str) else None
    unit = _UNITS.get(match.group(2)) if match else None
    if match is None or unit is None or int(match.group(1)) == 0:
        raise ScheduleError(f"{argument}={str(text)[:40]!r} is not a duration: give "
                            f"{_DURATION_HELP}.", argument=argument)
    name = {60: "minute", 3600: "hour", 86400: "day", 604800: "week"}[unit]
    return int(match.group(1)), name


def _wall(text: str, *, argument: str) -> datetime:
    """A naive wall-clock time from ISO text (seconds dropped)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ScheduleError(f"{argument}={str(text)[:40]!r} is not an ISO date-time such as "
                            "2026-12-07T18:00 (a wall-clock time in the zone) or "
                            "2026-12-07T17:00:00Z.", argument=argument) from None
    return value


@attrs.frozen
class Schedule:
    """One time trigger's schedule: ``spec`` is its canonical form (stored as JSON)."""

    spec: Mapping[str, Any]
    _cron: CronExpression | None = None
    _rule: RecurrenceRule | None = None

    # --- construction ----------------------------------------------------------------

    @classmethod
    def create(cls, *, at: str | datetime | None = None, every: str | None = None,
               cron: str | None = None, rrule: str | None = None,
               start: str | datetime | None = None, zone: str = "UTC",
               now: datetime) -> Schedule:
        """The schedule of exactly one of ``at``, ``every``, ``cron`` or ``rrule`` in
        ``zone``; ``start`` (a wall-clock time in the zone, or an aware instant) anchors
        ``every`` and ``rrule`` (default: now). Raises ``ScheduleError`` (or its
        ``UnknownTimeZoneError`` and ``TriggerInPastError``) and builds nothing when a
        value is wrong or the schedule would never fire after ``now``."""
        given = [name for name, value in (("at", at), ("every", every), ("cron", cron),
                                          ("rrule", rrule)) if value is not None]
        if len(given) != 1:
            raise ScheduleError("A time trigger takes exactly one of at, every, cron or "
                                f"rrule (given: {', '.join(given) or 'none'}).")
        tz = wallclock.zone(zone)
        if start is not None and given[0] in ("at", "cron"):
            raise ScheduleError(f"start anchors every and rrule, not {given[0]}.",
                                argument="start")
        anchor = cls._anchor(start, tz, now)
        spec: dict[str, Any]
        if at is not None:
            spec = {"kind": "at", "zone": zone, "at": cls._at(at, tz, now).isoformat()}
        elif every is not None:
            count, unit = parse_duration(every, argument="every")
            if unit in ("minute", "hour"):
                seconds = count * (60 if unit == "minute" else 3600)
                spec = {"kind": "every", "zone": zone, "seconds": seconds,
                        "anchor": wallclock.first_instant(anchor, tz).isoformat()}
            else:
                freq = "DAILY" if unit == "day" else "WEEKLY"
                spec = {"kind": "rrule", "zone": zone, "start": anchor.isoformat(),
                        "rrule": f"FREQ={freq};INTERVAL={count}"}
        elif cron is not None:
            CronExpression.parse(cron)
            spec = {"kind": "cron", "zone": zone, "cron": " ".join(cron.split())}
        else:
            assert rrule is not None
            RecurrenceRule.parse(rrule, anchor)
            spec = {"kind": "rrule", "zone": zone, "start": anchor.isoformat(),
                    "rrule": rrule.strip()}
        schedule = cls.from_spec(spec)
        if schedule.next_after(now - timedelta(microseconds=1)) is None:
            raise TriggerInPastError(
                f"This {given[0]} trigger would never fire: "
                + ("its instant is" if given[0] == "at" else "it has no occurrence")
                + f" after now ({now.isoformat(timespec='seconds')}).",
                hint="Give a time in the future.")
        return schedule

    @staticmethod
    def _anchor(start: str | datetime | None, tz: Any, now: datetime) -> datetime:
        """``start`` as a naive wall-clock time in ``tz`` (whole minutes)."""
        if start is None:
            value = wallclock.local(now, tz)
        elif isinstance(start, datetime):
            value = start if start.tzinfo is None else wallclock.local(start, tz)
        else:
            value = _wall(start, argument="start")
            if value.tzinfo is not None:
                value = wallclock.local(value, tz)
        return value.replace(second=0, microsecond=0)

    @staticmethod
    def _at(at: str | datetime, tz: Any, now: datetime) -> datetime:
        try:
            if isinstance(at, str) and at.strip().lower().startswith("in "):
                count, unit = parse_duration(at.strip()[3:], argument="at")
                seconds = count * {"minute": 60, "hour": 3600, "day": 86400,
                                   "week": 604800}[unit]
                return now + timedelta(seconds=seconds)
            value = at if isinstance(at, datetime) else _wall(at, argument="at")
            if value.tzinfo is not None:
                return value.astimezone(UTC)
            return wallclock.first_instant(value.replace(microsecond=0), tz)
        except OverflowError:
            raise ScheduleError(
                "at is outside the times Athena can schedule (it must fall in the years "
                "1 to 9998 in UTC).", hint="Give a time such as '2027-03-01T09:00' or "
                "'in 45 minutes'.", argument="at") from None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Schedule:
        """The schedule of a stored canonical ``spec``."""
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ScheduleError(f"Unknown time trigger kind {str(kind)[:20]!r}; kinds: "
                                f"{', '.join(KINDS)}.")
        wallclock.zone(str(spec.get("zone")))
        if kind == "cron":
            return cls(dict(spec), cron=CronExpression.parse(spec["cron"]))
        if kind == "rrule":
            start = datetime.fromisoformat(spec["start"])
            return cls(dict(spec), rule=RecurrenceRule.parse(spec["rrule"], start))
        return cls(dict(spec))

    # --- evaluation ----------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return str(self.spec["kind"])

    @property
    def recurring(self) -> bool:
        return self.kind != "at"

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire instant (UTC) strictly after ``after``, or ``None``."""
        after = after.astimezone(UTC)
        tz = wallclock.zone(self.spec["zone"])
        if self.kind == "at":
            at = datetime.fromisoformat(self.spec["at"])
            return at if at > after else None
        if self.kind == "every":
            anchor, step = datetime.fromisoformat(self.spec["anchor"]), self.spec["seconds"]
            if anchor > after:
                return anchor
            done = int((after - anchor).total_seconds() // step) + 1
            return anchor + timedelta(seconds=done * step)
        slack = _spread(tz, after - _SLACK, after + _SLACK)
        return _earliest(self._readings(after, tz, slack), after, tz)

    def _readings(self, after: datetime, tz: Any, slack: timedelta) -> Readings:
        """``(wall, instants)`` of a cron or RRULE schedule in wall-clock order, from
        ``slack`` before ``after``'s reading (the most an instant strays from that order
        around ``after``: nothing where the zone's offset does not change)."""
        near = wallclock.local(after, tz) - slack
        if self._cron is not None:
            fixed = self._cron.fixed_time
            return ((wall, (wallclock.first_instant(wall, tz),) if fixed
                     else wallclock.every_instant(wall, tz))
                    for wall in self._cron.walls_from(near))
        assert self._rule is not None
        return _until(((wall, (wallclock.rfc5545_instant(wall, tz),))
                       for wall in self._rule.walls(near)), self._rule.until)

    def fires_between(self, after: datetime, until: datetime, *, limit: int
                      ) -> list[datetime]:
        """The fire instants in (``after``, ``until``], in order, at most ``limit``: one
        pass over the readings of the window."""
        after, until = after.astimezone(UTC), until.astimezone(UTC)
        if self.kind in ("at", "every"):
            found: list[datetime] = []
            instant = self.next_after(after)
            while instant is not None and instant <= until and len(found) < limit:
                found.append(instant)
                instant = self.next_after(instant)
            return found
        tz = wallclock.zone(self.spec["zone"])
        slack = _spread(tz, after - _SLACK, until + _SLACK)
        last_wall = wallclock.local(until, tz) + slack
        seen: set[datetime] = set()
        for wall, instants in self._readings(after, tz, slack):
            if wall > last_wall:
                break
            seen.update(instant for instant in instants if after < instant <= until)
        return sorted(seen)[:limit]


Readings = Iterator[tuple[datetime, tuple[datetime, ...]]]


def _spread(tz: Any, start: datetime, end: datetime) -> timedelta:
    """How far the zone's UTC offset ranges over [start, end] (sampled every 30 minutes,
    closer than any two clock changes): zero where it does not change. Over more than two
    days, the most it can be (:data:`_SLACK`), without sampling."""
    if end - start > _LONG:
        return _SLACK
    offsets = set()
    moment = start
    while True:
        offsets.add(moment.astimezone(tz).utcoffset())
        if moment >= end:
            break
        moment = min(moment + _SAMPLE, end)
    if len(offsets) == 1:
        return timedelta(0)
    return max(offsets) - min(offsets) + timedelta(minutes=1)  # type: ignore[operator,type-var]


def _until(readings: Readings, until: datetime | None) -> Readings:
    """``readings`` up to the first whose instant passes ``until`` (RRULE ``UNTIL``)."""
    for wall, instants in readings:
        if until is not None and instants[0] > until:
            return
        yield wall, instants


def _earliest(readings: Readings, after: datetime, tz: Any) -> datetime | None:
    """The earliest instant after ``after`` among ``(wall, instants)`` readings in wall
    order: once one is found, readings go on as far as instants may stray from wall order
    around it (nowhere, where the zone's offset does not change)."""
    best: datetime | None = None
    last_wall: datetime | None = None
    for wall, instants in readings:
        if last_wall is not None and wall > last_wall:
            break
        for instant in instants:
            if instant > after and (best is None or instant < best):
                best = instant
                if last_wall is None:
                    last_wall = wall + 2 * _spread(tz, instant - _SLACK, instant + _SLACK)
    return best
