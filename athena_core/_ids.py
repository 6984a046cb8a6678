"""Memory ids: 26-character, time-ordered, unique across processes (ULID layout).

The one declaration of what an id looks like: the id columns are :data:`LENGTH` wide,
and an imported id must pass :func:`is_id`.
"""

from __future__ import annotations

import os
import re
import time

__all__ = ["ALPHABET", "LENGTH", "is_id", "new_id"]

#: Crockford base32, upper case (no I, L, O or U).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Characters in an id (128 bits in base32).
LENGTH = 26
_ID = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")


def new_id() -> str:
    """A new id: 48 bits of milliseconds then 80 random bits, base32-encoded."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(LENGTH):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def is_id(value: object) -> bool:
    """Whether ``value`` has the form of an id: :data:`LENGTH` characters of :data:`ALPHABET`."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None
