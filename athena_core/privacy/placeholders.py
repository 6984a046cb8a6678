"""What a placeholder looks like: ``[EMAIL_k3x7q2mz]``.

The upper-case part is the value's type; the lower-case part is the start of the keyed
hash of the value (base32, letters ``a``-``z`` and digits ``2``-``7``), eight characters
unless another value of the scope already has those, then more. So the same value gets
the same placeholder within a scope, different scopes get different ones, and finding a
value's placeholder needs its keyed hash only, never a plaintext index.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterator

__all__ = ["FRAGMENT", "MARK", "MAX_SUFFIX", "MIN_SUFFIX", "PLACEHOLDER", "REDACTION", "label",
           "placeholder", "placeholders_in", "redaction", "suffixes"]

MIN_SUFFIX = 8
MAX_SUFFIX = 52  # all of a SHA-256 digest in base32
#: A whole placeholder; group 1 is the type label, group 2 the hash part.
PLACEHOLDER = re.compile(
    rf"\[([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*?)_([a-z2-7]{{{MIN_SUFFIX},{MAX_SUFFIX}}})\]")
#: A redaction (``[PASSWORD]``): a label in brackets; group 1 is the label.
REDACTION = re.compile(r"\[([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)\]")
#: What Athena writes in a value's place: a whole placeholder or a redaction.
MARK = re.compile(rf"{PLACEHOLDER.pattern}|{REDACTION.pattern}")
#: The opening of a placeholder; one not part of a whole placeholder is cut off or nested.
FRAGMENT = re.compile(r"\[[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_[a-z2-7]")


@functools.lru_cache(maxsize=1024)
def label(type_name: str) -> str:
    """The upper-case label of type ``type_name`` (``payment_card`` -> ``PAYMENT_CARD``)."""
    cleaned = re.sub(r"[^A-Z0-9]+", "_", type_name.upper()).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "VALUE_" + cleaned if cleaned else "VALUE"
    return cleaned


def suffixes(digest: bytes) -> Iterator[str]:
    """The hash parts a value with keyed hash ``digest`` may get, shortest first."""
    encoded = base64.b32encode(digest).decode("ascii").rstrip("=").lower()
    for length in range(MIN_SUFFIX, min(MAX_SUFFIX, len(encoded)) + 1, 2):
        yield encoded[:length]


def placeholder(type_name: str, suffix: str) -> str:
    """The placeholder of a value of ``type_name`` whose hash part is ``suffix``."""
    return f"[{label(type_name)}_{suffix}]"


def redaction(type_name: str) -> str:
    """What stands for a value of ``type_name`` that is not kept (``[EMAIL]``): it names the
    type only and resolves to nothing."""
    return f"[{label(type_name)}]"


def placeholders_in(text: str) -> list[str]:
    """The whole placeholders in ``text``, in order, repeats included."""
    return [match.group(0) for match in PLACEHOLDER.finditer(text)]
