"""The host side of the bridge: every ``athena`` call from a sandboxed program.

The worker is treated as hostile. A :class:`BridgeHost` is bound to one
execution and one scope; it checks each call against the policy's allow-list
and the operation's declared signature, caps the number of calls and the bytes
exchanged, forces the bound scope, and records every call. A malformed or
forged frame raises :class:`BridgeViolation`, which ends the execution.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from athena_core import calls, errors
from athena_core.api.reference import signature_text
from athena_core.calls import CallContext
from athena_core.errors import AthenaError, PermissionDeniedError
from athena_core.execution.model import BridgeCall, ExecutionRequest
from athena_core.sandbox_client import frames

if TYPE_CHECKING:
    from athena_core.api import ApiRegistry, Operation
    from athena_core.execution.policy import Policy
    from athena_core.privacy.service import Privacy

__all__ = ["MAX_CALL_BYTES", "MAX_REPLY_BYTES", "WITHHELD_PERMISSIONS", "BridgeHost",
           "BridgeViolation", "allowed_operations", "callable_operations", "error_classes",
           "error_classes_json", "operation_specs", "operation_specs_json", "policy_key",
           "program_context", "to_jsonable"]

#: Largest call frame a program may send.
MAX_CALL_BYTES = 1 << 20
#: Largest reply the host sends back.
MAX_REPLY_BYTES = 16 << 20
#: Bytes a program may exchange over the bridge in one execution, both ways.
MAX_TOTAL_BYTES = 64 << 20
#: Withheld from every program, whatever its policy: programs do not start programs.
WITHHELD_PERMISSIONS = frozenset({"execute"})


class BridgeViolation(Exception):
    """The worker broke the protocol; the execution is ended."""


def program_context(policy: Policy, *, scope: str, caller: str = "program",
                    outer: CallContext | None = None) -> CallContext:
    """The call context of a sandboxed program running under ``policy``, started by a
    caller bound to ``outer`` (whose limits hold too: a program never gets more than the
    caller that started it)."""
    return CallContext.for_policy(policy, scope=scope, caller=caller,
                                  without=WITHHELD_PERMISSIONS, outer=outer)


def allowed_operations(registry: ApiRegistry, context: CallContext) -> list[Operation]:
    """The operations ``context`` may call: what discovery and tool lists show it."""
    return [op for op in registry if context.allows(op.name, op.permissions)]


def callable_operations(registry: ApiRegistry, policy: Policy) -> list[Operation]:
    """The operations a sandboxed program may call under ``policy``."""
    return allowed_operations(registry, program_context(policy, scope="-"))


def policy_key(policy: Policy) -> tuple[object, ...]:
    """What, of ``policy``, decides which operations it allows (a cache key)."""
    return (policy.api, policy.permissions)


def operation_specs(registry: ApiRegistry, request: ExecutionRequest) -> list[dict[str, Any]]:
    """What the sandbox's ``athena`` module is generated from (names, signatures, docs).

    Operations the policy refuses come as ``{"name": ..., "refused": True}`` - no
    signature, no documentation, not listed - so that calling one reaches the host, which
    refuses it with a ``PermissionDeniedError`` naming the missing permission (and records
    the attempt), instead of an ``AttributeError``. Operations no program may ever call
    (``execute``) are left out.
    """
    key = ("bridge-specs", policy_key(request.policy))
    specs = registry.cache.get(key)
    if specs is None:
        context = program_context(request.policy, scope="-")
        specs = registry.cache[key] = [
            {"name": op.name, "signature": signature_text(op), "doc": op.doc}
            if context.allows(op.name, op.permissions) else {"name": op.name, "refused": True}
            for op in registry if not op.permissions & WITHHELD_PERMISSIONS]
    return specs


def operation_specs_json(registry: ApiRegistry, request: ExecutionRequest) -> str:
    """:func:`operation_specs` as JSON text, encoded once per policy (about 30 KB, which
    took a warm execution about 0.4 ms to encode each time)."""
    key = ("bridge-specs-json", policy_key(request.policy))
    text = registry.cache.get(key)
    if text is None:
        text = registry.cache[key] = frames.ascii_json(operation_specs(registry, request))
    return text


@functools.cache
def error_classes_json() -> str:
    """:func:`error_classes` as JSON text (see :func:`operation_specs_json`)."""
    return frames.ascii_json(error_classes())


@functools.cache
def error_classes() -> tuple[dict[str, Any], ...]:
    """The error classes of :mod:`athena_core.errors`, parents first: what the sandbox's
    ``athena.errors`` is generated from, so that the two cannot drift apart."""
    classes = [getattr(errors, name) for name in errors.__all__]
    return tuple({"name": cls.__name__, "bases": [base.__name__ for base in cls.__bases__],
                  "doc": (cls.__doc__ or "").strip().split("\n", 1)[0]}
                 for cls in sorted(classes, key=lambda cls: len(cls.__mro__)))


def to_jsonable(value: Any) -> Any:
    """Operation results as JSON data (values with ``to_dict``, datetimes as ISO strings)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"operation returned {type(value).__name__}, which cannot cross the bridge")


class BridgeHost:
    """Answers the calls of one execution."""

    def __init__(self, registry: ApiRegistry, request: ExecutionRequest, *,
                 privacy: Privacy | None = None) -> None:
        self.request = request
        self.context = program_context(request.policy, scope=request.scope,
                                       caller=f"program:{request.id}", outer=calls.current())
        self._registry = registry
        #: Conceals results on their way into the program, unless its policy grants
        #: ``reveal`` (``None``: results as they are, for tests of the bridge alone).
        self._privacy = None if "reveal" in self.context.permissions else privacy
        self.calls: list[BridgeCall] = []
        self.violations: list[str] = []
        self._bytes = 0

    def operation_specs(self) -> list[dict[str, Any]]:
        """What the sandbox's ``athena`` module of this execution is generated from."""
        return operation_specs(self._registry, self.request)

    def operation_specs_json(self) -> str:
        """:meth:`operation_specs` as JSON text, encoded once per policy."""
        return operation_specs_json(self._registry, self.request)

    def handle(self, frame: Mapping[str, Any], frame_bytes: int) -> bytes:
        """Answer one ``call`` frame with an encoded ``reply`` frame; raise on a breach."""
        if frame.get("type") != "call":
            raise BridgeViolation(f"unexpected {frame.get('type')!r} frame from the program")
        call_id, name = frame.get("id"), frame.get("op")
        args, kwargs = frame.get("args", []), frame.get("kwargs", {})
        if not isinstance(call_id, int) or isinstance(call_id, bool) or not isinstance(name, str) \
                or not isinstance(args, list) or not isinstance(kwargs, dict):
            raise BridgeViolation("malformed call frame (id, op, args and kwargs have the "
                                  "wrong types)")
        if frame_bytes > MAX_CALL_BYTES:
            raise BridgeViolation(f"a call frame of {frame_bytes:,} bytes exceeds the "
                                  f"{MAX_CALL_BYTES:,}-byte limit")
        limit = self.request.policy.limits.api_calls
        if len(self.calls) >= limit:
            raise BridgeViolation(f"more than {limit} athena calls (policy limit api_calls)")
        self._bytes += frame_bytes
        started = time.perf_counter()
        ok, value, error = self._dispatch(name, args, kwargs)
        reply: dict[str, Any] = {"type": "reply", "id": call_id, "ok": ok}
        if ok:
            reply["value"] = value
        else:
            reply["error"] = error
        encoded = frames.encode(reply)
        if len(encoded) > MAX_REPLY_BYTES:
            reply = {"type": "reply", "id": call_id, "ok": False,
                     "error": {"type": "ResultTooLarge", "message":
                               f"the result is {len(encoded):,} bytes; the bridge limit is "
                               f"{MAX_REPLY_BYTES:,}. Ask for fewer results (smaller k)."}}
            encoded = frames.encode(reply)
        size = len(encoded)
        self._bytes += size
        if self._bytes > MAX_TOTAL_BYTES:
            raise BridgeViolation(f"more than {MAX_TOTAL_BYTES:,} bytes over the bridge")
        self.calls.append(BridgeCall(
            operation=name, ok=reply["ok"], duration_ms=(time.perf_counter() - started) * 1e3,
            request_bytes=frame_bytes, response_bytes=size,
            error=None if reply["ok"] else reply["error"]["type"]))
        return encoded

    def _dispatch(self, name: str, args: list[Any], kwargs: dict[str, Any]
                  ) -> tuple[bool, Any, dict[str, str] | None]:
        if name not in self._registry:
            self.violations.append(f"call to {name!r} refused: it does not exist")
            return False, None, {"type": "UnknownOperation",
                                 "message": f"operation {name!r} does not exist"}
        try:
            with calls.bind(self.context):
                value = to_jsonable(self._registry.get(name)(*args, **kwargs))
                if self._privacy is not None:
                    value = self._privacy.conceal_output(value, scope=self.request.scope)
                return True, value, None
        except PermissionDeniedError as exc:
            self.violations.append(f"call to {name!r} refused: {exc.message}")
            return False, None, {"type": type(exc).__name__, "message": str(exc)}
        except AthenaError as exc:
            return False, None, {"type": type(exc).__name__, "message": str(exc)}
        except (TypeError, ValueError) as exc:
            return False, None, {"type": type(exc).__name__, "message": str(exc)}

