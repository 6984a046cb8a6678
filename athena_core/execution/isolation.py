"""What isolation each installed executor puts in force on this host.

``athena doctor`` and ``athena plugins list`` show it. Each executor is created
from the configuration, probed (``unavailable()``) and asked for ``isolation()``
(see :class:`~athena_core.execution.model.Executor`); an executor without that
method is reported as such, never assumed to isolate anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from athena_core.execution.model import ExecutorContext, IsolationFeature

if TYPE_CHECKING:
    from athena_core.config import Config
    from athena_core.plugins import PluginHost

__all__ = ["NOT_REPORTED", "ExecutorIsolation", "describe", "executor_isolation"]

NOT_REPORTED = "isolation not reported by this executor"


@attrs.frozen
class ExecutorIsolation:
    """One executor: whether it can run here, and the isolation it reports."""

    executor: str
    plugin: str
    #: ``None`` if it can run here, else why not (``unavailable()``, or why it could not
    #: be created or asked).
    unavailable: str | None
    #: Feature name -> in force or not; ``None`` when the executor does not report it.
    features: Mapping[str, IsolationFeature] | None

    @property
    def reduced(self) -> list[str]:
        """The features that are off (all of them, for an executor that reports none)."""
        if self.features is None:
            return ["isolation"]
        return [name for name, feature in self.features.items() if not feature.on]

    def to_dict(self) -> dict[str, Any]:
        return {"executor": self.executor, "plugin": self.plugin,
                "available": self.unavailable is None, "unavailable": self.unavailable,
                "reported": self.features is not None,
                "features": None if self.features is None else
                {name: feature.to_dict() for name, feature in self.features.items()}}


def executor_isolation(config: Config, plugins: PluginHost) -> list[ExecutorIsolation]:
    """Every registered executor, created from ``config``, probed and asked; never raises
    for a plugin's failure (it is reported as the executor's reason)."""
    registry = plugins.registry("executor")
    context = ExecutorContext(data_dir=config.data_dir,
                              options=config.execution.executor_options, pool_size=0)
    out = []
    for name in registry.names():
        plugin = registry.provider(name)
        try:
            executor = registry.create(name, context)
        except Exception as exc:  # a broken plugin is reported, not fatal
            out.append(ExecutorIsolation(name, plugin, f"could not be created: {exc}", None))
            continue
        try:
            reason = executor.unavailable()
            features = _features(executor)
        except Exception as exc:
            reason, features = f"failed while being checked: {exc}", None
        finally:
            # Closing an unused executor must not hide the report.
            with contextlib.suppress(Exception):
                executor.close()
        out.append(ExecutorIsolation(name, plugin, reason, features))
    return out


def _features(executor: Any) -> dict[str, IsolationFeature] | None:
    method = getattr(executor, "isolation", None)
    if not callable(method):
        return None
    report = method()
    features = {}
    for name, value in dict(report).items():
        if not isinstance(value, IsolationFeature):
            raise TypeError(f"isolation()[{name!r}] is a {type(value).__name__}, "
                            "not an IsolationFeature")
        features[str(name)] = value
    return features


def describe(report: ExecutorIsolation, indent: str = "    ") -> list[str]:
    """Text lines: availability, then one line per feature (``on`` / ``OFF``)."""
    where = ("available here" if report.unavailable is None
             else f"unavailable here: {report.unavailable}")
    lines = [f"{indent}executor {report.executor}: {where}"]
    if report.features is None:
        return [*lines, f"{indent}  {NOT_REPORTED}"]
    width = max((len(name) for name in report.features), default=0)
    for name, feature in report.features.items():
        state = "on " if feature.on else "OFF"
        lines.append(f"{indent}  {name:<{width}}  {state}  {feature.detail}")
    return lines
