"""``athena.privacy``: what the privacy pipeline detects, as operations.

:class:`Privacy` is the owner object of the API registry's ``privacy`` namespace, so
host applications, sandboxed programs, classic MCP and discovery all offer
``privacy.scan`` from this one declaration. Its detectors are made when the instance
opens (:class:`~athena_core.privacy.detection.Detection`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from athena_core.api import operation
from athena_core.privacy.detection import Detection

__all__ = ["Privacy"]


class Privacy:
    """The ``privacy`` operations of one :class:`~athena_core.Athena` instance."""

    api_namespace = "privacy"

    def __init__(self, detection: Detection) -> None:
        self.detection = detection

    @operation()
    def scan(self, text: str, *, types: Sequence[str] | None = None,
             scope: str | None = None) -> list[dict[str, Any]]:
        """The sensitive values in ``text``: one entry per value, in text order, with its
        ``type`` (``email``, ``payment_card``, ``github_token``, ...), ``start`` and
        ``end`` (character offsets: the value is ``text[start:end]``), the ``detector``
        that found it and its ``confidence`` (0 to 1).

        Entries hold offsets, never the values. ``types`` narrows the scan to these
        types or detector names; the scope's ``[privacy]`` rules (types, patterns,
        allow-lists) apply. The scan itself stores nothing and adds no audit record.
        """
        return [span.to_dict() for span in self.detection.detect(text, types=types,
                                                                 scope=scope)]

    def types(self) -> list[str]:
        """Every type the detectors and ``[privacy] patterns`` report."""
        return self.detection.types()
