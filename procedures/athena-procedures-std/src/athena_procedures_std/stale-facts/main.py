"""Facts that may be out of date: not written for a long time, or past the review or
expiry date their metadata gives."""

from datetime import UTC, datetime, timedelta
from typing import Any

import athena

_DATE_KEYS = ("review_by", "expires", "valid_until")


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(older_than_days: int = 90, now: str | None = None,
        limit: int = 5000) -> list[dict[str, Any]]:
    """Current facts (of the newest ``limit``) last written more than ``older_than_days``
    before ``now`` (ISO-8601; default the present), or whose metadata ``review_by``,
    ``expires`` or ``valid_until`` date is not after ``now``; oldest first."""
    if older_than_days < 0 or limit < 1:
        raise ValueError("older_than_days must be at least 0 and limit at least 1")
    moment = _when(now) if now else datetime.now(UTC)
    cutoff = moment - timedelta(days=older_than_days)
    stale = []
    cursor = None
    seen = 0
    while seen < limit:
        size = min(500, limit - seen)
        page = athena.semantic.facts(limit=size, cursor=cursor)
        seen += len(page)
        for fact in page:
            written = _when(fact["valid_from"])
            reasons = []
            if written < cutoff:
                reasons.append(f"not written for {(moment - written).days} days")
            for key in _DATE_KEYS:
                value = (fact["metadata"] or {}).get(key)
                if isinstance(value, str):
                    try:
                        due = _when(value)
                    except ValueError:
                        reasons.append(f"{key} is not a date")
                        continue
                    if due <= moment:
                        reasons.append(f"{key} {value} has passed")
            if reasons:
                stale.append({"id": fact["id"], "text": fact["text"],
                              "written": fact["valid_from"],
                              "age_days": (moment - written).days, "reasons": reasons})
        if len(page) < size:
            break
        cursor = page[-1]["cursor"]
    return sorted(stale, key=lambda fact: fact["written"])
