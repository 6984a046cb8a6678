"""Athena: long-term memory for AI agents that use it by writing code.

Importing this package is cheap: :class:`Athena` and the rest load on first use.

>>> from athena_core import Athena
>>> with Athena.open("/tmp/athena-doctest") as athena:          # doctest: +SKIP
...     mid = athena.remember("Deploys go through staging first", scope="project:web")
...     athena.recall("how do we deploy?", scope="project:web")[0].text
'Deploys go through staging first'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from athena_core import errors
from athena_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from athena_core.api import operation
    from athena_core.config import Config
    from athena_core.memory.values import Episode, Fact, Hit, Memory
    from athena_core.runtime import Athena

__all__ = ["Athena", "Config", "Episode", "Fact", "Hit", "Memory", "errors", "hookimpl",
           "operation"]
__version__ = "0.1.0"

_LAZY = {
    "Athena": "athena_core.runtime",
    "Config": "athena_core.config",
    "operation": "athena_core.api",
    "Episode": "athena_core.memory.values",
    "Fact": "athena_core.memory.values",
    "Hit": "athena_core.memory.values",
    "Memory": "athena_core.memory.values",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'athena_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
