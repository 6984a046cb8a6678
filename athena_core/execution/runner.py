"""Choosing an executor and running one program end to end for :meth:`Athena.execute`."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from athena_core import _ids, calls
from athena_core.errors import ConfigError, SandboxUnavailableError, UnknownNameError
from athena_core.execution.bridge import BridgeHost, callable_operations, policy_key
from athena_core.execution.model import (
    LANGUAGES,
    ExecutionRequest,
    ExecutionResult,
    Executor,
    ExecutorContext,
)
from athena_core.execution.policy import PRESETS, Policy, path_refusals, policy_from_mapping
from athena_core.execution.static_checks import check_python

if TYPE_CHECKING:
    from pathlib import Path

    from athena_core.config import Config
    from athena_core.plugins import PluginHost
    from athena_core.privacy.service import Privacy
    from athena_core.runtime import Athena

__all__ = ["AUTO_ORDER", "ExecutionService"]

#: Executors tried, in order, when none is configured: the best sandbox that works here.
AUTO_ORDER = ("bwrap", "srt")


class ExecutionService:
    """The execution side of one Athena instance."""

    def __init__(self, config: Config, plugins: PluginHost, athena: Athena | None = None) -> None:
        self._config = config
        self._plugins = plugins
        self._athena = athena
        self._executors: dict[str, Executor] = {}
        #: Executors are made once, even when two threads (MCP sessions) first run at once.
        self._creating = threading.Lock()

    # --- choosing ----------------------------------------------------------------------

    def executor(self, name: str | None = None, *, policy: Policy | None = None,
                 language: str = "python") -> Executor:
        """The configured executor, or the best available one that accepts ``policy``.

        Never an unsandboxed fallback: with nothing usable this raises. Automatic
        choice prefers an executor that accepts the policy (``bwrap`` refuses network
        domains, ``srt`` takes them); if every usable one refuses, the first is
        returned so that its refusal is reported.
        """
        configured = name or self._config.execution.executor
        registry = self._plugins.registry("executor")
        if configured:
            executor = self.create(configured)
            reason = executor.unavailable()
            if reason:
                raise SandboxUnavailableError(f"Executor {configured!r} cannot run here: "
                                              f"{reason}.", hint="Run `athena doctor`.")
            return executor
        tried, usable = [], []
        # A policy every executor refuses (protected paths) gives no reason to look further.
        universal = policy is not None and bool(path_refusals(policy, self._config.data_dir))
        for candidate in AUTO_ORDER:
            if candidate in registry:
                executor = self.create(candidate)
                reason = executor.unavailable()
                if reason is not None:
                    tried.append(f"{candidate}: {reason}")
                    continue
                if policy is None or universal or not executor.refusals(policy, language):
                    return executor
                usable.append(executor)
        if usable:
            return usable[0]
        installed = ", ".join(registry.names()) or "none"
        raise SandboxUnavailableError(
            "No sandbox is available to run code, and Athena never runs it unsandboxed "
            f"(executors installed: {installed}; {'; '.join(tried) or 'none usable'}).",
            hint="Install bubblewrap and the athena-bwrap plugin: sudo apt-get install "
                 "bubblewrap && pip install athena-bwrap; then check with `athena doctor`.")

    def create(self, name: str) -> Executor:
        """The executor registered as ``name``, made once with the configured options
        (not probed: it may be unable to run here)."""
        with self._creating:
            return self._create_once(name)

    def _create_once(self, name: str) -> Executor:
        if name not in self._executors:
            config = self._config
            context = ExecutorContext(data_dir=config.data_dir,
                                      options=config.execution.executor_options,
                                      pool_size=config.execution.pool_size,
                                      api_tree=self.api_tree)
            self._executors[name] = self._plugins.create("executor", name, context)
        return self._executors[name]

    def policy(self, policy: str | Policy | Mapping[str, Any] | None) -> Policy:
        if isinstance(policy, Policy):
            return policy
        if isinstance(policy, Mapping):
            return policy_from_mapping(str(policy.get("name", "custom")),
                                       {k: v for k, v in policy.items() if k != "name"})
        name = policy or self._config.execution.policy
        custom = self._config.policies
        if name in custom:
            return custom[name]  # type: ignore[no-any-return]
        if name in PRESETS:
            return PRESETS[name]
        raise UnknownNameError("policy", name, [*PRESETS, *custom])

    # --- running -----------------------------------------------------------------------

    def run(self, code: str, *, language: str, policy: str | Policy | Mapping[str, Any] | None,
            scope: str) -> ExecutionResult:
        if language not in LANGUAGES:
            raise ConfigError(f"Unknown language {language!r}; Athena runs "
                              f"{', '.join(LANGUAGES)}.")
        chosen = self.policy(policy)
        request = ExecutionRequest(id=_ids.new_id(), code=code, language=language,
                                   policy=chosen, scope=scope)
        executor = self.executor(policy=chosen, language=language)
        # Protected paths are refused whatever the executor, so no choice can route around it.
        refusals = (path_refusals(chosen, self._config.data_dir)
                    + executor.refusals(chosen, language))
        if refusals:
            return self._finish(ExecutionResult(
                id=request.id, status="denied", executor=executor.name, language=language,
                policy=chosen.name, violations=tuple(refusals)), code, scope)
        findings: list[str] = []
        if language == "python":
            syntax, notes = check_python(code, chosen)
            findings = [str(n) for n in notes]
            if syntax is not None:
                return self._finish(ExecutionResult(
                    id=request.id, status="error", executor=executor.name, language=language,
                    policy=chosen.name, error=syntax, violations=tuple(findings)), code, scope)
        assert self._athena is not None, "running needs an open Athena instance"
        bridge = BridgeHost(self._athena.api, request, privacy=self._athena.privacy)
        result = executor.run(request, bridge)
        if findings:
            import attrs

            result = attrs.evolve(result, violations=tuple(findings) + result.violations)
        try:
            return self._finish(result, code, scope)
        finally:
            prewarm = getattr(executor, "prewarm", None)
            if prewarm is not None:  # once this call is over: starting a sandbox is costly
                calls.after_call(functools.partial(prewarm, chosen))

    def _finish(self, result: ExecutionResult, code: str, scope: str) -> ExecutionResult:
        """Conceal what the program printed and returned (its output goes toward a model),
        record the execution in the audit log (not in memory) and tell observers."""
        assert self._athena is not None
        result = _concealed(result, self._athena.privacy, scope)
        with self.recording():
            self._athena.audit.record_execution(result, code=code, scope=scope)
        self._athena.plugins.notify("athena_after_execute", athena=self._athena, result=result)
        return result

    def api_tree(self, policy: Policy) -> Path | None:
        """The API tree of what programs may call under ``policy`` (built once, then cached)."""
        if self._athena is None:
            return None
        registry = self._athena.api
        key = ("api-tree", policy_key(policy))
        tree: Path | None = registry.cache.get(key)
        if tree is None or not tree.is_dir():
            from athena_core.discovery import tree_for

            tree = registry.cache[key] = tree_for(callable_operations(registry, policy),
                                                  self._config.data_dir / "api-trees")
        return tree

    def recording(self) -> contextlib.AbstractContextManager[None]:
        """Around writing an audit record (an execution, a tool call): its durability.

        Without ``[execution] durable_records`` the commit does not wait for the disk
        flush (see :meth:`~athena_core.storage.Storage.deferred_flush`).
        """
        assert self._athena is not None
        if self._config.execution.durable_records:
            return contextlib.nullcontext()
        return self._athena._require_store().storage.deferred_flush()

    def close(self) -> None:
        for executor in self._executors.values():
            executor.close()
        self._executors.clear()


def _concealed(result: ExecutionResult, privacy: Privacy, scope: str) -> ExecutionResult:
    """``result`` with every sensitive value in its output, value and error message
    replaced by its placeholder."""
    import attrs

    error = result.error
    fields = {"stdout": result.stdout, "stderr": result.stderr, "value": result.value,
              "error": None if error is None else error.message}
    concealed = privacy.conceal_output(fields, scope=scope)
    if concealed == fields:
        return result
    if error is not None:
        error = attrs.evolve(error, message=concealed["error"])
    return attrs.evolve(result, stdout=concealed["stdout"], stderr=concealed["stderr"],
                        value=concealed["value"], error=error)
