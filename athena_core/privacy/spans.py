"""What a detector finds: :class:`Span`, a typed range of text, and how spans merge."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

import attrs

__all__ = ["Span", "merge_spans"]


def _check_range(instance: Span, attribute: attrs.Attribute[int], value: int) -> None:
    if attribute.name == "end" and value <= instance.start:
        raise ValueError(f"a span ends after it starts (start {instance.start}, end {value})")
    if value < 0:
        raise ValueError(f"a span's {attribute.name} is not negative ({value})")


@attrs.frozen
class Span:
    """A sensitive value found in a text: ``text[start:end]``, of ``type``.

    A span holds offsets, never the value itself, so that it can be printed, logged and
    returned without repeating what it points at. Offsets count Python characters (code
    points) of the text that was scanned.
    """

    #: What was found: ``email``, ``payment_card``, ``github_token``, ... (see
    #: ``docs/privacy.md``).
    type: str
    #: Offset of the value's first character.
    start: int = attrs.field(validator=_check_range)
    #: Offset just past the value's last character.
    end: int = attrs.field(validator=_check_range)
    #: The registered name of the detector that found it (``config`` for a custom pattern).
    detector: str
    #: How sure the detector is, from 0 to 1: 1.0 for a checksum or an unmistakable prefix,
    #: lower for values recognised by their context alone.
    confidence: float = 1.0

    @property
    def length(self) -> int:
        """How many characters the value has."""
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        """Whether this span and ``other`` share at least one character."""
        return self.start < other.end and other.start < self.end

    def to_dict(self) -> dict[str, Any]:
        """The span as JSON data: type, start, end, detector and confidence."""
        return attrs.asdict(self)


def _preference(span: Span) -> tuple[int, float, int, str, str]:
    return (-span.length, -span.confidence, span.start, span.type, span.detector)


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Resolve overlapping spans into disjoint ones, in text order.

    Of spans that overlap, the longest wins; among equally long ones the most confident,
    then the earliest, then the type and detector name in alphabetical order. The result
    does not depend on the order of ``spans``, and identical spans count once.
    """
    kept: list[Span] = []  # disjoint, sorted by start
    starts: list[int] = []
    for span in sorted(set(spans), key=_preference):
        at = bisect.bisect_left(starts, span.start)
        if at < len(kept) and kept[at].overlaps(span):
            continue
        if at > 0 and kept[at - 1].overlaps(span):
            continue
        kept.insert(at, span)
        starts.insert(at, span.start)
    return kept
