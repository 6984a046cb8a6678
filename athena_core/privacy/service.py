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
from athena_core.errors import InvalidArgumentError
from athena_core.privacy.detection import Detection

__all__ = ["Privacy"]


class Privacy:
    """The ``privacy`` operations of one :class:`~athena_core.Athena` instance."""

    api_namespace = "privacy"

    def __init__(self, detection: Detection, *, max_text_bytes: int) -> None:
        self.detection = detection
        #: The longest text a scan takes, in bytes of UTF-8 (``[memory] max_text_bytes``,
        #: as for the texts it is meant to check before they are stored).
        self.max_text_bytes = max_text_bytes

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
        ``text`` may be as long as a memory (``[memory] max_text_bytes``).
        """
        size = len(text.encode("utf-8"))
        if size > self.max_text_bytes:
            raise InvalidArgumentError(
                f"text is {size:,} bytes; the limit is {self.max_text_bytes:,} bytes "
                "([memory] max_text_bytes).", hint="Scan it in parts.", argument="text")
        return [span.to_dict() for span in self.detection.detect(text, types=types,
                                                                 scope=scope)]

    def types(self) -> list[str]:
        """Every type the detectors and ``[privacy] patterns`` report."""
        return self.detection.types()
