"""Timestamps: always timezone-aware UTC inside Athena."""

from __future__ import annotations

from datetime import UTC, datetime

from athena_core.errors import InvalidArgumentError


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str, *, name: str = "timestamp") -> datetime:
    """Accept an aware datetime or an ISO-8601 string; naive values are taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgumentError(
                f"{name}={value!r} is not an ISO-8601 timestamp (e.g. 2026-11-25T14:30:00Z)."
            ) from None
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{name} must be a datetime or ISO-8601 string, "
                                   f"not {type(value).__name__}.")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-02:00: past the last representable time
        raise InvalidArgumentError(
            f"{name}={value.isoformat()} is outside the years 1 to 9999 once in UTC.") from None


def isoformat(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()
