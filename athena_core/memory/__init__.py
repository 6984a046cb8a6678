"""Memory layers and the values they return (loaded on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from athena_core.memory.store import LayerContext, MemoryLayer, MemoryStore
    from athena_core.memory.values import Episode, Fact, Hit, Memory

__all__ = ["Episode", "Fact", "Hit", "LayerContext", "Memory", "MemoryLayer", "MemoryStore"]

_MODULES = {"LayerContext": "store", "MemoryLayer": "store", "MemoryStore": "store",
            "Episode": "values", "Fact": "values", "Hit": "values", "Memory": "values"}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'athena_core.memory' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"athena_core.memory.{_MODULES[name]}"), name)
