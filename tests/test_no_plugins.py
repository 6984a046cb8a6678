"""With only athena-core installed, the built-in defaults are complete and work."""

from __future__ import annotations

import subprocess
import sys

from athena_core import Athena
from athena_core.plugins import PluginHost


def test_only_builtin_plugins_are_installed() -> None:
    host = PluginHost()
    host.load_entry_points()
    assert {info.name for info in host.plugins()} == {"athena.memory", "athena.retrieval",
                                                      "athena.privacy"}
    assert all(info.distribution == "athena-core" for info in host.plugins())


def test_defaults_store_and_recall(tmp_path) -> None:
    with Athena.open(tmp_path) as athena:
        athena.remember("defaults are enough to remember")
        assert athena.recall("remember")[0].text == "defaults are enough to remember"


def test_importing_athena_core_loads_nothing_heavy() -> None:
    code = ("import sys, athena_core; from athena_core import Athena; "
            "print(sorted(m for m in ('numpy', 'sqlalchemy', 'alembic', 'importlib_metadata') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_cli_help_loads_nothing_heavy() -> None:
    code = ("import sys; from athena_core import cli; cli._parser().format_help(); "
            "print(sorted(m for m in ('numpy', 'sqlalchemy', 'alembic', 'attrs') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_execute_without_a_sandbox_refuses_and_runs_nothing(tmp_path) -> None:
    import pytest

    from athena_core.errors import SandboxUnavailableError

    canary = tmp_path / "ran"
    with Athena.open(tmp_path / "home") as athena, \
            pytest.raises(SandboxUnavailableError, match="never runs it unsandboxed") as caught:
        athena.execute(f"open({str(canary)!r}, 'w').write('x')")
    assert "bubblewrap" in (caught.value.hint or "")
    assert not canary.exists()
