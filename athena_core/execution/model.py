"""What an executor is given and what it returns."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs

from athena_core.execution.policy import Policy

if TYPE_CHECKING:
    from athena_core.execution.bridge import BridgeHost

__all__ = ["ISOLATION_FEATURES", "LANGUAGES", "BridgeCall", "ErrorInfo", "ExecutionRequest",
           "ExecutionResult", "Executor", "ExecutorBase", "ExecutorContext", "IsolationFeature",
           "Status"]

#: Languages an executor may support.
LANGUAGES = ("python", "javascript", "bash")
Status = Literal["ok", "error", "timeout", "killed", "denied"]
#: The isolation features every executor's ``isolation()`` reports, in this order (an
#: executor may add others after them). See ``Executor`` and docs/execution.md.
ISOLATION_FEATURES = ("os_sandbox", "namespaces", "seccomp", "uid", "no_new_privs",
                      "rlimits", "network", "filesystem")


@attrs.frozen
class IsolationFeature:
    """One isolation feature of an executor on this host: in force or not, and what holds
    (when on) or why not (when off)."""

    on: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"on": self.on, "detail": self.detail}


@attrs.frozen
class ExecutionRequest:
    """One program to run."""

    id: str
    code: str
    language: str
    policy: Policy
    scope: str


@attrs.frozen
class ErrorInfo:
    """Why a program failed: the exception type, its message and the line in the program."""

    type: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class BridgeCall:
    """One call a program made to the ``athena`` module, as the host recorded it."""

    operation: str
    ok: bool
    duration_ms: float
    request_bytes: int
    response_bytes: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class ExecutionResult:
    """The outcome of one execution."""

    id: str
    status: Status
    executor: str
    language: str
    policy: str
    stdout: str = ""
    stderr: str = ""
    #: The program's returned value (its last expression), as JSON-ready data.
    value: Any = None
    #: Non-zero when the value was larger than the output limit allows: its size as JSON,
    #: in bytes; ``value`` then holds only the start of that JSON text (a string).
    value_truncated: int = 0
    error: ErrorInfo | None = None
    duration_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_bytes: int = 0
    bridge_calls: tuple[BridgeCall, ...] = ()
    #: Rules the program ran into (blocked calls, limits hit, static-check findings).
    violations: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        out = attrs.asdict(self, recurse=False)
        out["error"] = self.error.to_dict() if self.error else None
        out["bridge_calls"] = [c.to_dict() for c in self.bridge_calls]
        out["violations"] = list(self.violations)
        return out


@attrs.frozen
class ExecutorContext:
    """What an executor factory receives."""

    data_dir: Path
    options: Mapping[str, Any] = attrs.field(factory=dict)
    #: Warm workers to keep ready (``[execution] pool_size``).
    pool_size: int = 2
    #: The API tree of the operations a program may call under a policy (a directory of
    #: files readable by anyone); executors that can mount it read-only at
    #: ``athena_core.discovery.SANDBOX_API_PATH``. ``None`` where there is none.
    api_tree: Callable[[Policy], Path | None] = attrs.field(default=lambda policy: None,
                                                            repr=False)


@runtime_checkable
class Executor(Protocol):
    """Runs programs under OS isolation (see ``athena_register_executors``)."""

    @property
    def name(self) -> str: ...

    def unavailable(self) -> str | None:
        """``None`` if it can run here, else why not and how to fix it."""
        ...

    def refusals(self, policy: Policy, language: str) -> list[str]:
        """Rules of ``policy`` (or the language) this executor cannot enforce."""
        ...

    def run(self, request: ExecutionRequest, bridge: BridgeHost) -> ExecutionResult:
        """Run ``request``; every ``athena`` call goes through ``bridge``."""
        ...

    # Optional: ``prewarm(policy)`` starts, in the background, what the next execution
    # under ``policy`` needs (a warm pool). Athena calls it after each execution is
    # recorded, when the executor has it.

    # Optional: ``isolation() -> Mapping[str, IsolationFeature]`` says which isolation
    # features are in force when this executor runs a program on this host: a key of
    # ``ISOLATION_FEATURES`` (``os_sandbox``, ``namespaces``, ``seccomp``, ``uid``,
    # ``no_new_privs``, ``rlimits``, ``network``, ``filesystem``; others may follow) ->
    # ``IsolationFeature(on, detail)``; a feature that is off says why. Cheap and
    # side-effect free (no probe). ``athena doctor`` and ``athena plugins list`` show it;
    # an executor without it is shown as "isolation not reported by this executor".

    def close(self) -> None: ...


class ExecutorBase:
    """Plumbing executor plugins share: built from their context, probed once.

    Subclasses implement ``_probe`` (``None`` if they can run here, else why not and
    how to fix it), ``refusals``, ``run`` and ``close``.
    """

    def __init__(self, context: ExecutorContext) -> None:
        self._context = context

    @classmethod
    def from_context(cls, context: ExecutorContext) -> Any:
        return cls(context)

    def unavailable(self) -> str | None:
        return self._availability

    @functools.cached_property
    def _availability(self) -> str | None:
        """Probed once per executor: a sandbox that works now keeps working."""
        return self._probe()

    def _probe(self) -> str | None:
        raise NotImplementedError
