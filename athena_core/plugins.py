"""The plugin host: one pluggy ``PluginManager`` per :class:`~athena_core.Athena`.

Plugins are modules (or objects) with ``athena_*`` hook implementations. They
are found through the ``athena.plugins`` entry point group, the built-in ones
included, so one mechanism loads, lists, allows and blocks all of them.
Loading happens when an instance opens, never at import.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from athena_core import hookspecs
from athena_core.config import PluginsConfig
from athena_core.errors import (
    AthenaError,
    DuplicateNameError,
    OptionError,
    PluginContractError,
    PluginLoadError,
    UnknownNameError,
)

__all__ = ["CORE_DISTRIBUTION", "ENTRY_POINT_GROUP", "FAMILIES", "PluginHost", "PluginInfo",
           "Registry"]

ENTRY_POINT_GROUP = "athena.plugins"
#: The distribution of the built-in plugins: they register first and are never disabled.
CORE_DISTRIBUTION = "athena-core"

log = logging.getLogger("athena.plugins")

#: Registry family -> the registration hook that fills it.
FAMILIES: dict[str, str] = {
    "memory layer": "athena_register_memory_layers",
    "vector backend": "athena_register_vector_backends",
    "embedder": "athena_register_embedders",
    "executor": "athena_register_executors",
    "api operation": "athena_register_api",
    "pii detector": "athena_register_pii_detectors",
    "key provider": "athena_register_key_providers",
    "marketplace source": "athena_register_marketplace_sources",
    "llm provider": "athena_register_llm_providers",
}

T = TypeVar("T")


@attrs.frozen
class PluginInfo:
    """What ``athena plugins list`` shows about one plugin."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...] = ()
    #: Why the plugin did not load (``None`` when it loaded).
    error: str | None = None
    #: ``"loaded"``, ``"failed"``, ``"blocked"`` or ``"not allowed"``.
    status: str = "loaded"

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "hooks": list(self.hooks)}


@attrs.define
class Registry(Generic[T]):
    """Names registered for one family, each with its factory and the plugin that gave it."""

    family: str
    _entries: dict[str, tuple[Callable[..., T], str]] = attrs.field(factory=dict)

    def add(self, name: str, factory: Callable[..., T], *, plugin: str) -> None:
        """Register ``factory`` as ``name`` for ``plugin``."""
        self.add_all([(name, factory)], plugin=plugin)

    def add_all(self, entries: Sequence[tuple[str, Callable[..., T]]], *, plugin: str) -> None:
        """Register one plugin's ``(name, factory)`` pairs after checking them all: all or
        none. Raises ``ValueError`` for an invalid entry, ``DuplicateNameError`` for a
        name already registered (naming both plugins)."""
        seen: dict[str, str] = {name: entry[1] for name, entry in self._entries.items()}
        for name, factory in entries:
            if not isinstance(name, str) or not name:
                raise ValueError(f"registered a {self.family} with an invalid name {name!r}")
            if not callable(factory):
                raise ValueError(f"registered {self.family} {name!r} with a non-callable "
                                 "factory")
            if name in seen:
                raise DuplicateNameError(
                    f"{self.family.capitalize()} {name!r} is registered twice: by plugin "
                    f"{seen[name]!r} and by plugin {plugin!r}.",
                    hint=f"Uninstall or block one of them (ATHENA_PLUGINS_BLOCK={plugin}).",
                )
            seen[name] = plugin
        for name, factory in entries:
            self._entries[name] = (factory, plugin)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def provider(self, name: str) -> str:
        """The plugin that registered ``name``."""
        return self._entry(name)[1]

    def factory(self, name: str) -> Callable[..., T]:
        return self._entry(name)[0]

    def create(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Call the factory registered as ``name``."""
        return self.factory(name)(*args, **kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _entry(self, name: str) -> tuple[Callable[..., T], str]:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.family, name, self.names()) from None


class PluginHost:
    """Loads plugins into a private pluggy manager and builds the registries from them."""

    def __init__(self, settings: PluginsConfig | None = None) -> None:
        self.settings = settings or PluginsConfig()
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self._infos: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry[Any]] = {}

    @property
    def hook(self) -> Any:
        """The hook relay: ``host.hook.athena_startup(athena=...)``."""
        return self.manager.hook

    def load_entry_points(self) -> None:
        """Load every allowed plugin of the ``athena.plugins`` entry point group."""
        import importlib_metadata

        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            self._load(ep.name, ep.load, dist, version)

    def load_module(self, name: str, module: str, *, distribution: str | None = None) -> None:
        """Load the plugin module ``module`` under ``name`` (built-ins without metadata)."""
        import importlib

        self._load(name, lambda: importlib.import_module(module), distribution, None)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register an already imported plugin object (tests and host apps use this)."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        self._load(name, lambda: plugin, None, None)

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen: loaded, failed, blocked or not allowed."""
        return sorted(self._infos.values(), key=lambda info: info.name)

    def provided(self) -> dict[str, dict[str, list[str]]]:
        """What each loaded plugin registered: plugin name -> family -> names, sorted."""
        out: dict[str, dict[str, list[str]]] = {}
        for family in FAMILIES:
            registry = self.registry(family)
            for name in registry.names():
                out.setdefault(registry.provider(name), {}).setdefault(family, []).append(name)
        return out

    def failures(self) -> list[PluginInfo]:
        return [info for info in self._infos.values() if info.status == "failed"]

    def registry(self, family: str) -> Registry[Any]:
        """The registry of ``family`` (a key of :data:`FAMILIES`); the first call checks
        every plugin (:meth:`check`)."""
        self.check()
        return self._registries[family]

    def check(self) -> None:
        """Build every registry, checking what each plugin registers.

        A plugin whose registration hook raises, or that registers an invalid, reserved
        or already taken name, or an operation that could not be called or described
        (its type hints do not resolve), is disabled (:meth:`disable`): none of its
        names or hooks remain, and every other plugin works. The built-in plugins
        register first, then the others in the order they were loaded.
        """
        while not self._registries:  # a plugin disabled during a pass empties them
            failed = len(self.failures())
            built = {family: self._build(family) for family in FAMILIES}
            if len(self.failures()) == failed:
                self._registries = built

    def disable(self, name: str, error: BaseException) -> None:
        """Mark plugin ``name`` failed because of ``error`` and unregister all its hooks.

        In strict mode (``[plugins] strict``) raise instead: ``error`` itself if it names
        the plugin already (``DuplicateNameError``, ``PluginContractError``), else a
        ``PluginLoadError``
        naming the plugin and its distribution. A built-in plugin is never disabled:
        its error is raised.
        """
        if self.settings.strict or self.is_core(name):
            if isinstance(error, (DuplicateNameError, PluginContractError)):
                raise error
            raise self.failure(name, error) from error
        info = self._infos.get(name) or PluginInfo(name, None, None)
        self.manager.unregister(name=name)
        self._infos[name] = attrs.evolve(info, hooks=(), error=str(self.failure(name, error)),
                                         status="failed")
        self._registries.clear()

    def failure(self, name: str, error: BaseException) -> PluginLoadError:
        """The error that says plugin ``name`` (and its distribution) failed because of
        ``error``."""
        info = self._infos.get(name)
        return PluginLoadError(name, info.distribution if info else None, error)

    def create(self, family: str, name: str, *args: Any) -> Any:
        """Call the factory of ``family`` registered as ``name``, attributing its errors.

        An invalid option becomes an ``OptionError`` that also names the plugin; any
        other error that is not an ``AthenaError``, a ``PluginLoadError`` naming it.
        """
        registry = self.registry(family)
        factory, plugin = registry.factory(name), registry.provider(name)
        try:
            return factory(*args)
        except OptionError as exc:
            raise OptionError(f"{family.capitalize()} {name!r} of plugin {plugin!r}: "
                              f"{exc.message}", hint=exc.hint) from exc
        except AthenaError:
            raise
        except Exception as exc:
            raise self.failure(plugin, exc) from exc

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call the observer ``hook`` of every plugin; a failing observer is logged (with
        the plugin's name) and never raised, so the others still get the call and the
        operation that fired it still succeeds."""
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception:
                log.exception("plugin %r failed in %s; the operation itself succeeded",
                              impl.plugin_name, hook,
                              extra={"plugin": impl.plugin_name, "hook": hook})

    def _build(self, family: str) -> Registry[Any]:
        registry: Registry[Any] = Registry(family)
        hook = getattr(self.manager.hook, FAMILIES[family])
        impls = hook.get_hookimpls()  # in registration order (pluggy calls them reversed)
        for impl in sorted(impls, key=lambda i: not self.is_core(i.plugin_name)):
            staged: list[tuple[str, Callable[..., Any]]] = []

            def register(name: str, factory: Callable[..., Any],
                         staged: list[tuple[str, Callable[..., Any]]] = staged) -> None:
                staged.append((name, factory))

            try:
                impl.function(**{arg: register for arg in impl.argnames})
                if not self.is_core(impl.plugin_name):
                    _check_registrations(family, staged, impl.plugin_name)
                registry.add_all(staged, plugin=impl.plugin_name)
            except Exception as exc:  # the plugin, not Athena, is broken
                self.disable(impl.plugin_name, exc)
        return registry

    def is_core(self, plugin: str) -> bool:
        """Whether ``plugin`` is one of the built-in plugins (distribution athena-core)."""
        info = self._infos.get(plugin)
        return info is not None and info.distribution == CORE_DISTRIBUTION

    def _load(self, name: str, load: Callable[[], object], dist: str | None,
              version: str | None) -> None:
        if name in self._infos and self._infos[name].status == "loaded":
            other = self._infos[name].distribution or "a directly registered object"
            raise DuplicateNameError(
                f"Two plugins are named {name!r}: one from {other}, "
                f"one from {dist or 'a directly registered object'}.",
                hint="Uninstall one of the two distributions.",
            )
        if name in self.settings.block:
            self._infos[name] = PluginInfo(name, dist, version, status="blocked")
            return
        if self.settings.allow and name not in self.settings.allow:
            self._infos[name] = PluginInfo(name, dist, version, status="not allowed")
            return
        try:
            plugin = load()
            self.manager.register(plugin, name=name)
        except Exception as exc:  # a broken plugin is reported, not fatal (unless strict)
            error = PluginLoadError(name, dist, exc)
            if self.settings.strict:
                raise error from exc
            self._infos[name] = PluginInfo(name, dist, version, error=str(error),
                                           status="failed")
            return
        hooks = tuple(sorted(h.name for h in self.manager.get_hookcallers(plugin) or ()))
        self._infos[name] = PluginInfo(name, dist, version, hooks=hooks)
        self._registries.clear()  # a new plugin may register more names


def _check_registrations(family: str, staged: Sequence[tuple[str, Callable[..., Any]]],
                         plugin: str) -> None:
    """Check what a plugin registers as API operations or memory layers, all at once, as
    far as it can be known before Athena opens (a layer's operations, when its factory
    is a class that declares its ``api_namespace``)."""
    from athena_core.api import ApiRegistry
    from athena_core.api.checks import check_plugin_operations, check_top_level_name

    ops = []
    if family == "api operation":
        ops = [ApiRegistry.function(name, factory, owner=None, provider=plugin)
               for name, factory in staged]
    elif family == "memory layer":
        for name, factory in staged:
            check_top_level_name(name, plugin=plugin, what="memory layer")
            if isinstance(factory, type) and hasattr(factory, "api_namespace"):
                ops += ApiRegistry.declared(factory, namespace=name, provider=plugin)
    check_plugin_operations(ops)


def hook_names() -> Iterable[str]:
    """Names of every hook in :mod:`athena_core.hookspecs`."""
    return [name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("athena_")]
