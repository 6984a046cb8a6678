"""Shared by the tests that run code: skip, or fail in CI, when no sandbox is installed."""

from __future__ import annotations

import os
import shutil

import pytest


def sandbox_ready() -> bool:
    from athena_core.plugins import PluginHost

    host = PluginHost()
    host.load_entry_points()
    return "bwrap" in host.registry("executor") and shutil.which("bwrap") is not None


def require_sandbox() -> pytest.MarkDecorator:
    """Skip without bubblewrap and athena-bwrap, unless ATHENA_REQUIRE_SANDBOX=1 (CI)."""
    if os.environ.get("ATHENA_REQUIRE_SANDBOX") == "1":
        return pytest.mark.sandbox
    return pytest.mark.skipif(not sandbox_ready(),
                              reason="needs bubblewrap and the athena-bwrap plugin")
