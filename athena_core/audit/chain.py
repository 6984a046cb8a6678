"""The hash chain of the audit log: what each record's hash covers, and how it is computed.

A record's hash is the SHA-256 of a canonical JSON serialisation (sorted keys, no
spaces, UTF-8) of its accountable fields: its place in the chain (``seq``), its
id, time, kind, who, scope, policy, status, timings, sizes, the operations called,
the kind's details, the *sha256* of its payload (never the payload itself), whether
it was migrated, and the hash of the record before it. So removing a payload when
a forget scrubs it leaves the chain valid, while editing any hashed field, removing
a record or moving one to another place is detected by
:meth:`athena_core.audit.AuditLog.verify`.

The schema migration that moved older records out of episodic memory hashes them
with this module too: the serialisation is versioned (``"v": 1``) and never changes
in place; a new one gets a new version and the old stays verifiable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["GENESIS", "HASHED_FIELDS", "canonical", "payload_digest", "record_hash"]

#: ``prev_hash`` of the first record.
GENESIS = "0" * 64
#: The record fields (columns of ``audit_log``) the hash covers, besides ``prev_hash``.
HASHED_FIELDS = ("seq", "id", "at", "kind", "caller", "scope", "policy", "status",
                 "duration_ms", "executor", "language", "calls", "call_count",
                 "request_bytes", "response_bytes", "details", "payload_sha256", "migrated")
_VERSION = 1


def canonical(fields: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes a record's hash is taken over (``fields``: at least :data:`HASHED_FIELDS`)."""
    data: dict[str, Any] = {"v": _VERSION, "prev": prev_hash}
    for name in HASHED_FIELDS:
        value = fields[name]
        if name == "at":
            value = _timestamp(value)
        elif name == "calls":
            value = list(value)
        elif name == "details":
            value = dict(value)
        elif name == "migrated":
            value = bool(value)
        data[name] = value
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8", "surrogatepass")


def record_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """The hash of a record with ``fields`` that follows the record hashed ``prev_hash``."""
    return hashlib.sha256(canonical(fields, prev_hash)).hexdigest()


def payload_digest(payload: str) -> str:
    """The sha256 of a payload (a program's text, a tool call's arguments as JSON)."""
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def _timestamp(value: datetime) -> str:
    # Microseconds always shown, so the text does not depend on how a database rounds.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
