"""RFC 5545 recurrence rules (a declared subset), evaluated by Athena.

Accepted parts: ``FREQ`` (``YEARLY``, ``MONTHLY``, ``WEEKLY``, ``DAILY``, ``HOURLY``,
``MINUTELY``), ``INTERVAL``, ``COUNT`` (at most :data:`MAX_COUNT`) or ``UNTIL``
(a UTC date-time, ``20301231T235900Z``), ``BYMONTH``, ``BYMONTHDAY`` (1 to 31, -31 to -1),
``BYDAY`` (``MO``...``SU``; with an ordinal such as ``1MO`` or ``-1FR`` under ``MONTHLY``
and ``YEARLY`` only, not mixed with days without one), ``BYHOUR``, ``BYMINUTE``,
``BYSETPOS`` (under ``MONTHLY`` and ``YEARLY`` only) and ``WKST``. Anything else
(``BYSECOND``, ``BYYEARDAY``, ``BYWEEKNO``, ``SECONDLY``, ``RDATE``, ``EXDATE``...) is
refused with
:class:`~athena_core.errors.ScheduleError`.

Occurrences are wall-clock times of ``DTSTART``'s zone (the trigger's ``start`` and
``zone``), with seconds zero. Parts left out default as RFC 5545 says: the day, hour and
minute of ``DTSTART`` where the frequency is coarser. A period's occurrences are its days
passing every ``BY`` rule (ordinals count within the month, or within the year under
``YEARLY`` without ``BYMONTH``), each at every ``BYHOUR`` x ``BYMINUTE`` time; ``BYSETPOS``
picks from them in order; occurrences before ``DTSTART`` are not counted.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs

from athena_core.errors import ScheduleError

__all__ = ["ACCEPTED", "MAX_COUNT", "RecurrenceRule"]

#: The largest ``COUNT`` accepted (a longer series can use ``UNTIL``).
MAX_COUNT = 10_000
FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
ACCEPTED = ("FREQ=YEARLY|MONTHLY|WEEKLY|DAILY|HOURLY|MINUTELY with INTERVAL, COUNT (at "
            f"most {MAX_COUNT:,}) or UNTIL (UTC, e.g. 20301231T235900Z), BYMONTH, "
            "BYMONTHDAY, BYDAY (ordinals such as 1MO or -1FR under MONTHLY and YEARLY), "
            "BYHOUR, BYMINUTE, BYSETPOS (MONTHLY and YEARLY) and WKST; e.g. "
            "'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1'")
_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY", "BYHOUR",
          "BYMINUTE", "BYSETPOS", "WKST"}
#: A rule with no occurrence in this many periods in a row is taken to have none.
_EMPTY_PERIODS = 50 * 366 * 24


def _error(rule: str, problem: str) -> ScheduleError:
    return ScheduleError(f"Invalid RRULE {rule[:120]!r}: {problem}. Accepted: {ACCEPTED}.",
                         argument="rrule")


def _ints(rule: str, name: str, text: str, low: int, high: int, *,
          negative: bool = False) -> frozenset[int]:
    values = set()
    for item in text.split(","):
        try:
            value = int(item)
        except ValueError:
            raise _error(rule, f"{name}={text[:40]} holds {item[:20]!r}, not a number") from None
        if not (low <= value <= high or (negative and -high <= value <= -low)):
            raise _error(rule, f"{name} value {value} is outside {low} to {high}"
                               + (f" (or -{high} to -{low})" if negative else ""))
        values.add(value)
    return frozenset(values)


@attrs.frozen
class RecurrenceRule:
    """A parsed recurrence rule anchored at ``start`` (a naive wall-clock time)."""

    text: str
    start: datetime
    frequency: int  # index into FREQUENCIES
    interval: int = 1
    count: int | None = None
    until: datetime | None = None  # UTC
    months: frozenset[int] = frozenset()
    month_days: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0 = Monday
    nth_weekdays: frozenset[tuple[int, int]] = frozenset()  # (weekday, ordinal)
    hours: frozenset[int] | None = None
    minutes: frozenset[int] | None = None
    set_positions: tuple[int, ...] = ()
    week_start: int = 0

    @classmethod
    def parse(cls, rule: str, start: datetime) -> RecurrenceRule:
        """Parse ``rule`` (with or without a leading ``RRULE:``) anchored at ``start``;
        raises :class:`~athena_core.errors.ScheduleError` naming the part at fault."""
        if not isinstance(rule, str):
            raise _error(str(rule), "it is not a string")
        body = rule.strip()
        if body.upper().startswith("RRULE:"):
            body = body[6:]
        parts: dict[str, str] = {}
        for item in body.split(";"):
            name, equals, value = item.partition("=")
            name = name.strip().upper()
            if not equals or not value.strip():
                raise _error(rule, f"{item[:30]!r} is not NAME=VALUE")
            if name not in _PARTS:
                raise _error(rule, f"{name[:20]} is not supported")
            if name in parts:
                raise _error(rule, f"{name} is given twice")
            parts[name] = value.strip().upper()
        if "FREQ" not in parts:
            raise _error(rule, "FREQ is missing")
        if parts["FREQ"] not in FREQUENCIES:
            raise _error(rule, f"FREQ={parts['FREQ'][:20]} is not supported")
        frequency = FREQUENCIES.index(parts["FREQ"])
        start = start.replace(second=0, microsecond=0)
        values: dict[str, Any] = {}
        if "INTERVAL" in parts:
            values["interval"] = min(_ints(rule, "INTERVAL", parts["INTERVAL"], 1, 10_000))
        if "COUNT" in parts and "UNTIL" in parts:
            raise _error(rule, "COUNT and UNTIL may not both be given")
        if "COUNT" in parts:
            values["count"] = min(_ints(rule, "COUNT", parts["COUNT"], 1, MAX_COUNT))
        if "UNTIL" in parts:
            try:
                until = datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            except ValueError:
                raise _error(rule, "UNTIL must be a UTC date-time such as "
                                   "20301231T235900Z") from None
            values["until"] = until
        if "BYMONTH" in parts:
            values["months"] = _ints(rule, "BYMONTH", parts["BYMONTH"], 1, 12)
        if "BYMONTHDAY" in parts:
            values["month_days"] = _ints(rule, "BYMONTHDAY", parts["BYMONTHDAY"], 1, 31,
                                         negative=True)
        if "BYHOUR" in parts:
            values["hours"] = _ints(rule, "BYHOUR", parts["BYHOUR"], 0, 23)
        if "BYMINUTE" in parts:
            values["minutes"] = _ints(rule, "BYMINUTE", parts["BYMINUTE"], 0, 59)
        if "WKST" in parts:
            if parts["WKST"] not in DAYS:
                raise _error(rule, f"WKST={parts['WKST'][:10]} is not one of MO...SU")
            values["week_start"] = DAYS.index(parts["WKST"])
        if "BYSETPOS" in parts:
            if frequency > 1:
                raise _error(rule, "BYSETPOS is accepted under FREQ=MONTHLY and YEARLY only")
            values["set_positions"] = tuple(sorted(_ints(rule, "BYSETPOS", parts["BYSETPOS"],
                                                         1, 366 * 24 * 60, negative=True)))
        if "BYDAY" in parts:
            plain, nth = set(), set()
            for item in parts["BYDAY"].split(","):
                day, ordinal = item[-2:], item[:-2]
                if day not in DAYS:
                    raise _error(rule, f"BYDAY holds {item[:10]!r}; days are MO...SU")
                if not ordinal:
                    plain.add(DAYS.index(day))
                    continue
                if frequency > 1:
                    raise _error(rule, "BYDAY ordinals (1MO, -1FR) are accepted under "
                                       "FREQ=MONTHLY and YEARLY only")
                try:
                    number = int(ordinal)
                except ValueError:
                    raise _error(rule, f"BYDAY holds {item[:10]!r}; an ordinal is a number "
                                       "such as 1, 2 or -1") from None
                if number == 0 or abs(number) > 53:
                    raise _error(rule, f"the BYDAY ordinal {number} is outside 1 to 53 "
                                       "(or -53 to -1)")
                nth.add((DAYS.index(day), number))
            if plain and nth:
                raise _error(rule, "BYDAY mixes days with and without ordinals")
            values["weekdays"], values["nth_weekdays"] = frozenset(plain), frozenset(nth)
        rrule = cls(rule, start, frequency, **values)
        return rrule._defaults()

    def _defaults(self) -> RecurrenceRule:
        """The parts RFC 5545 takes from ``DTSTART`` when left out."""
        changes: dict[str, Any] = {}
        if not (self.month_days or self.weekdays or self.nth_weekdays):
            if self.frequency == 0:
                changes["months"] = self.months or frozenset({self.start.month})
                changes["month_days"] = frozenset({self.start.day})
            elif self.frequency == 1:
                changes["month_days"] = frozenset({self.start.day})
            elif self.frequency == 2:
                changes["weekdays"] = frozenset({self.start.weekday()})
        if self.hours is None and self.frequency < 4:
            changes["hours"] = frozenset({self.start.hour})
        if self.minutes is None and self.frequency < 5:
            changes["minutes"] = frozenset({self.start.minute})
        return attrs.evolve(self, **changes) if changes else self

    # --- occurrences ---------------------------------------------------------------

    def walls(self, near: datetime | None = None) -> Iterator[datetime]:
        """The occurrences in order (naive wall-clock times), ``COUNT`` applied; with
        ``near`` (and no ``COUNT``), starting at a period a little before ``near``."""
        period = 0
        if near is not None and self.count is None:
            period = max(0, self._period_of(near) - 1)
        remaining = self.count
        empty = 0
        while empty < _EMPTY_PERIODS:
            found = self._period(period)
            period += 1
            empty = 0 if found else empty + 1
            for wall in found:
                if wall < self.start:
                    continue
                if remaining is not None:
                    if remaining == 0:
                        return
                    remaining -= 1
                yield wall

    def _period_of(self, wall: datetime) -> int:
        start = self.start
        if self.frequency == 0:
            steps = wall.year - start.year
        elif self.frequency == 1:
            steps = (wall.year - start.year) * 12 + wall.month - start.month
        elif self.frequency == 2:
            steps = (wall.date() - self._week_of(start.date())).days // 7
        elif self.frequency == 3:
            steps = (wall.date() - start.date()).days
        elif self.frequency == 4:
            steps = int((wall - start.replace(minute=0)).total_seconds() // 3600)
        else:
            steps = int((wall - start).total_seconds() // 60)
        return steps // self.interval

    def _week_of(self, day: date) -> date:
        return day - timedelta(days=(day.weekday() - self.week_start) % 7)

    def _period(self, index: int) -> list[datetime]:
        """The occurrences of period ``index`` (``BYSETPOS`` applied, ``DTSTART`` not)."""
        step = index * self.interval
        start = self.start
        if self.frequency <= 3:
            if self.frequency == 0:
                if start.year + step > 9999:
                    return []
                first, last = date(start.year + step, 1, 1), date(start.year + step, 12, 31)
            elif self.frequency == 1:
                year, month = divmod(start.month - 1 + step, 12)
                if start.year + year > 9999:
                    return []
                first = date(start.year + year, month + 1, 1)
                last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
            elif self.frequency == 2:
                first = self._week_of(start.date()) + timedelta(days=7 * step)
                last = first + timedelta(days=6)
            else:
                first = last = start.date() + timedelta(days=step)
            days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
            times = sorted(time(hour, minute) for hour in self.hours or ()
                           for minute in self.minutes or ())
            found = [datetime.combine(day, moment) for day in days if self._day_ok(day)
                     for moment in times]
            if self.set_positions:
                picked = {found[pos - 1 if pos > 0 else pos] for pos in self.set_positions
                          if -len(found) <= pos <= len(found) and pos != 0}
                found = sorted(picked)
            return found
        if self.frequency == 4:
            hour = start.replace(minute=0) + timedelta(hours=step)
            if not self._day_ok(hour.date()) or (self.hours and hour.hour not in self.hours):
                return []
            return [hour.replace(minute=minute) for minute in sorted(self.minutes or ())]
        moment = start + timedelta(minutes=step)
        if (not self._day_ok(moment.date()) or (self.hours and moment.hour not in self.hours)
                or (self.minutes and moment.minute not in self.minutes)):
            return []
        return [moment]

    def _day_ok(self, day: date) -> bool:
        if self.months and day.month not in self.months:
            return False
        if self.weekdays and day.weekday() not in self.weekdays:
            return False
        if self.month_days:
            length = calendar.monthrange(day.year, day.month)[1]
            if day.day not in self.month_days and day.day - length - 1 not in self.month_days:
                return False
        return not (self.nth_weekdays and not self._nth_ok(day))

    def _nth_ok(self, day: date) -> bool:
        """Whether ``day`` is one of the ordinal weekdays (1MO, -1FR) of its month, or of
        its year under ``YEARLY`` without ``BYMONTH``."""
        if self.frequency == 0 and not self.months:
            first, last = date(day.year, 1, 1), date(day.year, 12, 31)
        else:
            first = day.replace(day=1)
            last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        weekday = day.weekday()
        forward = (day - first).days // 7 + 1
        backward = -((last - day).days // 7 + 1)
        return (weekday, forward) in self.nth_weekdays or \
            (weekday, backward) in self.nth_weekdays
