"""A plugin whose operation takes a name Athena or its sandbox module already uses."""

from __future__ import annotations

from typing import Any

from athena_core import hookimpl
from athena_core.api import operation


@operation(permissions="read")
def lookup(athena: Any, text: str) -> int:
    """How long ``text`` is."""
    return len(text)


class ReservedNamePlugin:
    """Registers :func:`lookup` under ``name`` (``remember``, ``api.lookup``, ...)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def athena_register_api(self, register: Any) -> None:
        register(self.name, lookup)
