"""Five-field cron expressions, evaluated by Athena (no cron library at run time).

Accepted: ``minute hour day-of-month month day-of-week``, each field ``*``, a number, a
range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n`` (from ``a`` to the field's end), or a
comma-separated list of those; months ``JAN``-``DEC`` and days ``SUN``-``SAT`` by name
(any case); day-of-week 0 or 7 is Sunday. As in Vixie and Debian cron, when both the
day-of-month and day-of-week fields are restricted (neither starts with ``*``) a day
matching either fires; otherwise a day must match both.

Clock changes (Debian cron's rule): an expression whose minute and hour fields are both
fixed (neither starts with ``*``) names wall-clock times; one repeated by a clock going
back fires once, at its first occurrence; one skipped by a clock going forward fires at
the first wall-clock minute after the gap, once. An expression whose minute or hour
field starts with ``*`` fires at every instant whose wall-clock reading matches: skipped
readings never fire, repeated ones fire on each pass.
"""

from __future__ import annotations

import bisect
import calendar
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import attrs

from athena_core.errors import ScheduleError

__all__ = ["ACCEPTED", "CronExpression"]

ACCEPTED = ("five fields 'minute hour day-of-month month day-of-week', each '*', 'n', "
            "'a-b', '*/n', 'a-b/n', 'a/n' or a comma-separated list of those; month names "
            "JAN-DEC and day names SUN-SAT; day-of-week 0 and 7 are Sunday (e.g. "
            "'30 9 * * MON-FRI', '*/15 * * * *')")
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12),
           ("day-of-week", 0, 7))
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
           "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAMES = {3: {name: number for number, name in enumerate(_MONTHS, start=1)},
          4: {name: number for number, name in enumerate(_WEEKDAYS)}}


def _error(expression: str, problem: str) -> ScheduleError:
    return ScheduleError(f"Invalid cron expression {expression[:100]!r}: {problem}. "
                         f"Accepted: {ACCEPTED}.", argument="cron")


def _number(text: str, index: int, expression: str) -> int:
    name, low, high = _FIELDS[index]
    value = _NAMES.get(index, {}).get(text.upper())
    if value is None:
        if not text.isdigit():
            raise _error(expression, f"{text[:20]!r} is not a number or name in the "
                                     f"{name} field")
        value = int(text)
    if not low <= value <= high:
        raise _error(expression, f"{value} is outside {low}-{high} in the {name} field")
    return value


def _field(text: str, index: int, expression: str) -> frozenset[int]:
    name, low, high = _FIELDS[index]
    values: set[int] = set()
    for term in text.split(","):
        base, slash, step_text = term.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise _error(expression, f"the step {step_text[:20]!r} in the {name} "
                                         "field is not a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, index, expression), _number(last, index, expression)
            if end < start:
                raise _error(expression, f"the range {base!r} in the {name} field runs "
                                         "backwards")
        else:
            start = _number(base, index, expression)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    if index == 4:
        values = {value % 7 for value in values}
    return frozenset(values)


@attrs.frozen
class CronExpression:
    """A parsed five-field cron expression (see the module docstring)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    #: Day-of-month and day-of-week both restricted: a day matching either fires.
    either_day: bool
    #: Minute and hour fixed: the expression names wall-clock times (see module doc).
    fixed_time: bool
    #: Its ``(hour, minute)`` times of a day, in order.
    times: tuple[tuple[int, int], ...] = ()

    @classmethod
    def parse(cls, expression: str) -> CronExpression:
        """Parse ``expression``; raises :class:`~athena_core.errors.ScheduleError` saying
        which field is wrong and what is accepted."""
        if not isinstance(expression, str):
            raise _error(str(expression), "it is not a string")
        parts = expression.split()
        if len(parts) != 5:
            raise _error(expression, f"it has {len(parts)} fields, not 5")
        for part in parts:
            if not all(char.isalnum() or char in ",-*/" for char in part):
                raise _error(expression, f"{part[:20]!r} holds a character other than "
                                         "digits, names, ',', '-', '*' and '/' (L, W, # "
                                         "and ? are not accepted)")
        fields = [_field(part, index, expression) for index, part in enumerate(parts)]
        either = not parts[2].startswith("*") and not parts[4].startswith("*")
        if not either and min(fields[2]) > max(calendar.monthrange(2024, month)[1]
                                               for month in fields[3]):
            raise _error(expression, "no month it names has that day")
        times = tuple(sorted((hour, minute) for hour in fields[1] for minute in fields[0]))
        return cls(expression, fields[0], fields[1], fields[2], fields[3], fields[4],
                   either, not parts[0].startswith("*") and not parts[1].startswith("*"),
                   times)

    def day_matches(self, day: date) -> bool:
        """Whether ``day`` is one of the expression's days (month included)."""
        if day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_weekday = (day.weekday() + 1) % 7 in self.weekdays
        return (by_date or by_weekday) if self.either_day else (by_date and by_weekday)

    def walls_from(self, start: datetime) -> Iterator[datetime]:
        """The expression's wall-clock times at or after ``start`` (naive), in order;
        endless unless no day ever matches (then it stops after 50 years)."""
        day = start.date()
        first = start.replace(second=0, microsecond=0)
        if first < start:
            first += timedelta(minutes=1)
        times = self.times
        limit = date(min(day.year + 50, 9999), 1, 1)
        while day < limit:
            if self.day_matches(day):
                skip = bisect.bisect_left(times, (first.hour, first.minute)) \
                    if day == first.date() else 0
                for hour, minute in times[skip:]:
                    yield datetime(day.year, day.month, day.day, hour, minute)
            day += timedelta(days=1)
