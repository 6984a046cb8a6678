"""Times a query names ("on March 16, 2022", "in July 2023", "in 2022"), for recall to favour.

A memory is usually recorded a little after what it tells of ("yesterday I went
bowling", "last week we moved"), so a named period is widened by
:data:`RECORDED_AFTER` at its end, and by a day at its start for time zones.
Only explicit dates count: a day with its month and year (either order, or
ISO ``2022-03-16``), a month with its year, or a year from 1900 to 2099 on its
own. "In June" or "last week" name no year, and are left alone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import attrs

__all__ = ["RECORDED_AFTER", "Period", "named_periods", "within"]

#: How long after a period a memory may still be about it.
RECORDED_AFTER = timedelta(days=14)
_EARLIER = timedelta(days=1)
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_MONTH = r"(?P<month>" + "|".join(m[:3] + f"(?:{m[3:]})?" if len(m) > 3 else m
                                  for m in _MONTHS) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_PATTERNS = (
    ("day", re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE)),
    ("day", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE)),
    ("day", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b")),
    ("month", re.compile(rf"\b{_MONTH},?\s+(?:of\s+)?{_YEAR}\b", re.IGNORECASE)),
    ("year", re.compile(rf"(?<![\d-]){_YEAR}(?![\d-])")),
)


@attrs.frozen
class Period:
    """``[start, end)`` in UTC: what a query names, widened to when it may have been recorded."""

    start: datetime
    end: datetime

    def __contains__(self, when: datetime) -> bool:
        return self.start <= when < self.end


def named_periods(query: str) -> list[Period]:
    """The periods ``query`` names, each widened (see the module's documentation)."""
    taken: list[tuple[int, int]] = []  # spans already read as a longer date
    periods = []
    for unit, pattern in _PATTERNS:
        for match in pattern.finditer(query):
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue
            taken.append(match.span())  # an impossible date names no period at all
            found = _period(unit, match)
            if found is not None:
                periods.append(found)
    return periods


def _period(unit: str, match: re.Match[str]) -> Period | None:
    year = int(match["year"])
    if unit == "year":
        return _widened(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    month = _month_number(match["month"])
    if unit == "month":
        return _widened(datetime(year, month, 1, tzinfo=UTC), _next_month(year, month))
    try:
        start = datetime(year, month, int(match["day"]), tzinfo=UTC)
    except ValueError:  # "February 30, 2023", "2023-13-01"
        return None
    return _widened(start, start + timedelta(days=1))


def _month_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    return next(i for i, name in enumerate(_MONTHS, start=1)
                if name.startswith(text.lower().rstrip(".")))


def _next_month(year: int, month: int) -> datetime:
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def _widened(start: datetime, end: datetime) -> Period:
    return Period(start - _EARLIER, end + RECORDED_AFTER)


def within(periods: list[Period], when: datetime) -> bool:
    """Whether ``when`` is in any of ``periods``."""
    return any(when in period for period in periods)

