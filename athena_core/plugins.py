"""The plugin host: one pluggy ``PluginManager`` per :class:`~athena_core.Athena`.

Plugins are modules (or objects) with ``athena_*`` hook implementations. They
are found through the ``athena.plugins`` entry point group, the built-in ones
included, so one mechanism loads, lists, allows and blocks all of them.
Loading happens when an instance opens, never at import.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from athena_core import hookspecs
from athena_core.config import PluginsConfig
from athena_core.errors import DuplicateNameError, PluginLoadError, UnknownNameError

__all__ = ["ENTRY_POINT_GROUP", "FAMILIES", "PluginHost", "PluginInfo", "Registry"]

ENTRY_POINT_GROUP = "athena.plugins"

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
        if not isinstance(name, str) or not name:
            raise PluginLoadError(plugin, None, TypeError(
                f"registered a {self.family} with an invalid name {name!r}"))
        if not callable(factory):
            raise PluginLoadError(plugin, None, TypeError(
                f"registered {self.family} {name!r} with a non-callable factory"))
        if name in self._entries:
            first = self._entries[name][1]
            raise DuplicateNameError(
                f"{self.family.capitalize()} {name!r} is registered twice: by plugin "
                f"{first!r} and by plugin {plugin!r}.",
                hint=f"Uninstall or block one of them (ATHENA_PLUGINS_BLOCK={plugin}).",
            )
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
        """The registry of ``family`` (a key of :data:`FAMILIES`), built on first use."""
        if family not in self._registries:
            registry: Registry[Any] = Registry(family)
            hook = getattr(self.manager.hook, FAMILIES[family])
            # Call each implementation on its own so a duplicate names its plugin.
            for impl in reversed(hook.get_hookimpls()):
                register = _bound_register(registry, impl.plugin_name)
                impl.function(**{arg: register for arg in impl.argnames})
            self._registries[family] = registry
        return self._registries[family]

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


def _bound_register(registry: Registry[Any], plugin: str) -> Callable[[str, Callable[..., Any]],
                                                                      None]:
    def register(name: str, factory: Callable[..., Any]) -> None:
        registry.add(name, factory, plugin=plugin)

    return register


def hook_names() -> Iterable[str]:
    """Names of every hook in :mod:`athena_core.hookspecs`."""
    return [name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("athena_")]
