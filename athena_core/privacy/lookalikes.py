"""Values that look like secrets but are documentation, templates or masks.

Documentation and sample code are full of things shaped like credentials:
``AKIAIOSFODNN7EXAMPLE``, ``ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx``, ``${API_KEY}``,
``<your-token>``, ``********``. Reporting them would bury the real findings, so the
secret detectors drop a value when :func:`is_lookalike` says it is one.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["KNOWN_SAMPLES", "entropy", "is_identifier_reference", "is_lookalike",
           "is_uuid_or_digest"]

#: Credentials published in vendors' documentation as examples.
KNOWN_SAMPLES = frozenset({
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
    "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
})

#: Words that mark a value as a stand-in for a real one.
_MARKERS = ("example", "sample", "placeholder", "redacted", "dummy", "your", "fake",
            "changeme", "insert", "replace", "xxxx", "****", "....", "<", ">", "${", "{{", "}}",
            "%(", "$(", "...")
#: A marker as people write it: in lower case, upper case or capitalised, each word of
#: it (``YOUR_KEY``, ``YourKey``, ``changeMe``, ``XXXX``); not in mixed case such as
#: ``xXXx`` or ``yOuR``, which a random token holds by chance (one 100-character token in
#: a few thousand holds some marker when case is ignored).
_MARKER_AS_WRITTEN = re.compile("|".join(
    "".join(f"(?:{re.escape(word)}|{re.escape(word.upper())}|{re.escape(word.capitalize())})"
            for word in (("change", "me") if marker == "changeme" else (marker,)))
    for marker in _MARKERS))
_SEQUENCES = ("0123456789", "123456789", "abcdefghij", "qwertyuiop")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_HEX_DIGEST = re.compile(r"(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})", re.I)
#: A reference to a value rather than the value: ``os.environ["X"]``, ``settings.DB_PASS``,
#: ``get_secret()``, ``PASSWORD``, ``$PASSWORD``, ``%PASSWORD%``.
_REFERENCE = re.compile(
    r"(?:\$\w+|%\w+%|[A-Z][A-Z0-9_]*|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(.*\))?"
    r"|[A-Za-z_][\w.]*\(.*\)|[A-Za-z_][\w.]*\[.*\]|[a-z_]+)")


def entropy(value: str) -> float:
    """Shannon entropy of ``value``'s characters, in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def is_lookalike(value: str, *, min_entropy: float = 3.0) -> bool:
    """Whether ``value`` is a documentation sample, a template or a mask, not a secret.

    True for vendors' published samples, values holding a marker (``example``,
    ``your``, ``xxxx``, ``****``, ``<``, ``${``, ...) in lower, upper or capitalised
    case, counting sequences
    (``123456789``), and values of 16 characters or more whose entropy is below
    ``min_entropy`` bits per character (``aaaaaaaa...``, ``abababab...``).
    """
    if value in KNOWN_SAMPLES:
        return True
    if _MARKER_AS_WRITTEN.search(value) or any(s in value.lower() for s in _SEQUENCES):
        return True
    return len(value) >= 16 and entropy(value) < min_entropy


def is_uuid_or_digest(value: str) -> bool:
    """Whether ``value`` is a UUID or a hex digest (a git hash, a SHA-256): identifiers,
    not credentials."""
    return bool(_UUID.fullmatch(value) or _HEX_DIGEST.fullmatch(value))


def is_identifier_reference(value: str) -> bool:
    """Whether an unquoted ``value`` after ``password =`` is code naming a value (a
    variable, a constant, an attribute, a call, an environment variable) rather than
    the value itself."""
    return bool(_REFERENCE.fullmatch(value))
