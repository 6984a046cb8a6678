"""Values of the knowledge graph: facts in two times, entity keys, interval checks.

A :class:`Fact` is one stored assertion. It is true in the world over its *valid*
interval [``valid_from``, ``valid_to``) and believed by Athena over its *record* interval
[``recorded_at``, ``retracted_at``); ``None`` as an end means "open". Only the record
interval's end is ever set after a fact is stored, once: corrections and supersession add
facts and retract old ones, they never change an interval in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import attrs

from athena_core._time import as_utc, isoformat
from athena_core.errors import GraphInputError, InvalidIntervalError

__all__ = ["DIRECTIONS", "MAX_NAME_CHARS", "MAX_PREDICATE_CHARS", "MAX_TYPE_CHARS",
           "Direction", "Fact", "check_interval", "check_label", "entity_key", "visible"]

#: The longest entity name or alias, in characters.
MAX_NAME_CHARS = 500
#: The longest relation or observation type.
MAX_PREDICATE_CHARS = 128
#: The longest entity type.
MAX_TYPE_CHARS = 64
Direction = Literal["out", "in", "both"]
DIRECTIONS: tuple[Direction, ...] = ("out", "in", "both")


def entity_key(name: str) -> str:
    """How a name is matched: case-folded, runs of whitespace made one space."""
    return " ".join(name.split()).casefold()


def check_label(value: object, *, argument: str, limit: int, what: str) -> str:
    """``value`` stripped, if it is a non-empty string of at most ``limit`` characters;
    else :class:`~athena_core.errors.GraphInputError` naming ``argument``."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise GraphInputError(
            f"{argument} must be {what}: a non-empty string of at most {limit} characters.",
            argument=argument)
    return value.strip()


def check_interval(valid_from: datetime | str | None, valid_to: datetime | str | None, *,
                   default_from: datetime) -> tuple[datetime, datetime | None]:
    """The valid interval [``valid_from``, ``valid_to``) in UTC; ``valid_from`` defaults to
    ``default_from`` and ``valid_to`` ``None`` means open-ended. Raises
    :class:`~athena_core.errors.InvalidIntervalError` unless it ends after it starts."""
    start = default_from if valid_from is None else as_utc(valid_from, name="valid_from")
    end = None if valid_to is None else as_utc(valid_to, name="valid_to")
    if end is not None and end <= start:
        raise InvalidIntervalError(
            f"valid_to ({end.isoformat()}) is not after valid_from ({start.isoformat()}); "
            "a fact's valid interval [valid_from, valid_to) must not be empty.",
            argument="valid_to",
            hint="Give a valid_to later than valid_from, or none for a fact still true.")
    return start, end


def visible(fact: Fact, valid_time: datetime, record_time: datetime) -> bool:
    """Whether ``fact`` was believed at ``record_time`` to be true at ``valid_time``: the
    rule every ``as_of`` query applies (and the one its SQL form must agree with)."""
    return (fact.recorded_at <= record_time
            and (fact.retracted_at is None or fact.retracted_at > record_time)
            and fact.valid_from <= valid_time
            and (fact.valid_to is None or fact.valid_to > valid_time))


@attrs.frozen
class Fact:
    """One stored assertion: a relation (``object`` set) or an observation (``value``)."""

    id: str
    subject: str
    predicate: str
    object: str | None
    value: Any
    attributes: dict[str, Any]
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    retracted_at: datetime | None = None
    retracted_by: str | None = None
    derived_from: str | None = None
    reason: str | None = None
    #: Whether a cascade rule marked it stale (as of the record time it was read at).
    stale: bool = False

    @property
    def kind(self) -> Literal["relation", "observation"]:
        return "relation" if self.object is not None else "observation"

    def to_dict(self) -> dict[str, Any]:
        """JSON data: every field, times as ISO-8601 strings, plus ``kind``."""
        return {"id": self.id, "kind": self.kind, "subject": self.subject,
                "predicate": self.predicate, "object": self.object, "value": self.value,
                "attributes": dict(self.attributes),
                "valid_from": isoformat(self.valid_from), "valid_to": isoformat(self.valid_to),
                "recorded_at": isoformat(self.recorded_at),
                "retracted_at": isoformat(self.retracted_at),
                "retracted_by": self.retracted_by, "derived_from": self.derived_from,
                "reason": self.reason, "stale": self.stale}
