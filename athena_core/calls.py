"""The call context: who is calling, in which scope, with which permissions.

Every entry point - a host API call, a bridge frame from a sandboxed program, an
MCP request, a CLI command - binds one :class:`CallContext` for as long as its
call runs. Everything that runs for that call sees it: the registry's dispatcher
checks each operation's declared permissions against it, and
:meth:`~athena_core.memory.MemoryStore.scope` resolves every ``scope`` through
it. So an operation - built-in or plugin, with or without a ``scope`` parameter,
and every operation it calls in turn - reaches only the bound scope.

A host application that calls an operation with no context bound is trusted: the
dispatcher binds a host context for the call (all permissions, the call's own
``scope`` or the configured default) so that what runs inside stays in that scope.

The context lives in a :class:`contextvars.ContextVar`, so threads and asyncio
tasks each see their own (``anyio.to_thread`` and ``asyncio`` copy it).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import attrs

from athena_core.errors import PermissionDeniedError, ScopeViolationError

if TYPE_CHECKING:
    from athena_core.execution.policy import Policy

__all__ = ["ALL_PERMISSIONS", "CallContext", "after_call", "bind", "current", "operation_call"]

#: Every permission an operation may require. ``reveal`` is to be handed the real
#: sensitive values behind placeholders (``privacy.reveal``, bridge results in their real
#: form); no preset policy grants it, the host has it.
ALL_PERMISSIONS = frozenset({"read", "write", "delete", "execute", "reveal"})


def _allows(patterns: tuple[str, ...], name: str) -> bool:
    return any(pattern == "*" or pattern == name
               or (pattern.endswith(".*") and name.startswith(pattern[:-1]))
               for pattern in patterns)


@attrs.frozen
class CallContext:
    """What one entry point binds for the call it serves."""

    #: The scope everything in this call runs in; ``None``: the instance's default scope
    #: (host calls that named none).
    scope: str | None
    #: Who is calling: ``host``, ``cli``, ``program:<execution id>``, ``mcp:<client>``.
    caller: str = "host"
    #: Permissions granted (``read``, ``write``, ``delete``, ``execute``, ``reveal``).
    permissions: frozenset[str] = ALL_PERMISSIONS
    #: Operation patterns allowed (``recall``, ``semantic.*``; ``*`` is all).
    operations: tuple[str, ...] = ("*",)
    #: The policy this context came from, by name (for the audit log).
    policy: str | None = None
    #: The context this one was bound inside, whose limits hold too: a nested context
    #: (a program started by a bound caller, ``athena.bound`` inside another) only narrows.
    outer: CallContext | None = attrs.field(default=None, repr=False)

    @classmethod
    def for_policy(cls, policy: Policy, *, scope: str, caller: str,
                   without: Iterable[str] = (), outer: CallContext | None = None
                   ) -> CallContext:
        """The context of a caller bound by ``policy`` (``without``: permissions withheld
        whatever the policy says, e.g. ``execute`` inside the sandbox; ``outer``: the
        context it is bound inside, whose limits hold too)."""
        return cls(scope=scope, caller=caller,
                   permissions=frozenset(policy.permissions) - frozenset(without),
                   operations=policy.api, policy=policy.name, outer=outer)

    def allows(self, name: str, needs: frozenset[str]) -> bool:
        """Whether operation ``name``, needing ``needs``, may be called (here and in every
        outer context)."""
        return (needs <= self.permissions and _allows(self.operations, name)
                and (self.outer is None or self.outer.allows(name, needs)))

    def check(self, name: str, needs: frozenset[str]) -> None:
        """Raise :class:`PermissionDeniedError` unless operation ``name`` may be called."""
        if self.allows(name, needs):
            return
        if self.outer is not None and not self.outer.allows(name, needs):
            self.outer.check(name, needs)
        missing = tuple(sorted(needs - self.permissions))
        if missing:
            granted = ", ".join(sorted(self.permissions)) or "none"
            raise PermissionDeniedError(
                f"{name}() needs the {' and '.join(missing)} permission, which "
                f"{self._whose()} does not grant (granted: {granted}).",
                operation=name, missing=missing,
                hint="Ask for a policy that grants it ([policies.NAME] permissions).")
        if not _allows(self.operations, name):
            raise PermissionDeniedError(
                f"{name}() is not among the operations {self._whose()} allows "
                f"({', '.join(self.operations) or 'none'}).",
                operation=name, hint="List what you may call with athena.api.names().")

    def resolve(self, scope: str | None) -> str | None:
        """The scope a call asking for ``scope`` runs in (``None``: the default)."""
        if self.scope is None and self.outer is not None:
            return self.outer.resolve(scope)
        if scope is None or self.scope is None or scope == self.scope:
            return self.scope if scope is None else scope
        raise ScopeViolationError(
            f"This call is bound to scope {self.scope!r}; it cannot reach scope {scope!r}.",
            hint="Leave scope out: it is set by how you connected, not per call.")

    def _whose(self) -> str:
        return f"policy {self.policy!r}" if self.policy else f"the {self.caller} context"


_CURRENT: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "athena_call_context", default=None)


def current() -> CallContext | None:
    """The context bound for the call running now, or ``None`` outside any call."""
    return _CURRENT.get()


@contextlib.contextmanager
def bind(context: CallContext) -> Iterator[CallContext]:
    """Bind ``context`` for the calls made inside the ``with`` block."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


#: Work deferred to the end of the outermost operation call under way (``None``: none is).
_AFTER: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "athena_after_call", default=None)


@contextlib.contextmanager
def operation_call() -> Iterator[None]:
    """Mark an operation call (the registry's dispatch): what :func:`after_call` defers
    inside it runs when the outermost one ends, after the call was announced."""
    if _AFTER.get() is not None:
        yield
        return
    pending: list[Callable[[], None]] = []
    token = _AFTER.set(pending)
    try:
        yield
    finally:
        _AFTER.reset(token)
        for callback in pending:
            callback()


def after_call(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the operation call under way has returned and been announced
    (at once outside any): background work such as pre-starting the next sandbox then
    does not compete with the rest of this call for the interpreter."""
    pending = _AFTER.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)
