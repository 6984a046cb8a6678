"""Checks that a plugin is discoverable through installed entry points."""

from __future__ import annotations

from athena_core.plugins import PluginHost


def registered_names(family: str) -> list[str]:
    host = PluginHost()
    host.load_entry_points()
    return host.registry(family).names()
