"""What the executor refuses, when it is available, and that it is never picked on its own."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from athena_restrictedpython.executor import RestrictedPythonExecutor

from athena_core.errors import SandboxUnavailableError
from athena_core.execution.model import ExecutorContext
from athena_core.execution.policy import PRESETS
from athena_core.plugins import PluginHost


def test_registered_under_its_name_by_the_entry_point() -> None:
    host = PluginHost()
    host.load_entry_points()
    assert "restrictedpython" in host.registry("executor")


@pytest.mark.parametrize("language", ["javascript", "bash"])
def test_other_languages_are_denied(athena, language: str) -> None:
    result = athena.execute("echo hi", language=language)
    assert result.status == "denied" and result.executor == "restrictedpython"
    assert "runs only Python" in result.violations[0]
    assert result.stdout == "" and result.value is None


@pytest.mark.parametrize(("policy", "words"), [
    ({"network_domains": ["example.org"]}, "network"),
    ({"read_paths": ["/tmp"]}, "read_paths"),
    ({"write_paths": ["/tmp"]}, "write_paths"),
])
def test_rules_it_cannot_enforce_are_denied(athena, policy: dict, words: str) -> None:
    result = athena.execute("print('must not run')", policy=policy)
    assert result.status == "denied"
    assert len(result.violations) == 1 and words in result.violations[0]
    assert result.stdout == ""


def test_every_unenforceable_rule_is_named(athena) -> None:
    result = athena.execute("1", policy={"network_domains": ["a.org"], "read_paths": ["/"],
                                         "write_paths": ["/tmp"]})
    assert result.status == "denied" and len(result.violations) == 3


@pytest.mark.parametrize(("preset", "denied"), [("strict", False), ("research", True),
                                                ("development", True)])
def test_presets(athena, preset: str, denied: bool) -> None:
    result = athena.execute("1", policy=preset)
    assert (result.status == "denied") is denied


def test_env_api_and_limits_rules_are_accepted(tmp_path: Path) -> None:
    executor = RestrictedPythonExecutor(ExecutorContext(data_dir=tmp_path))
    policy = PRESETS["strict"]
    assert executor.refusals(policy, "python") == []
    import attrs

    custom = attrs.evolve(policy, env=("HOME",), api=("recall",))
    assert executor.refusals(custom, "python") == []


def test_available_when_restrictedpython_is_installed(tmp_path: Path) -> None:
    executor = RestrictedPythonExecutor(ExecutorContext(data_dir=tmp_path))
    try:
        assert executor.unavailable() is None
    finally:
        executor.close()


def test_unavailable_without_restrictedpython(tmp_path: Path, monkeypatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    reason = RestrictedPythonExecutor(ExecutorContext(data_dir=tmp_path)).unavailable()
    assert reason is not None and "pip install 'RestrictedPython>=9.0,<10'" in reason


def test_unavailable_with_an_old_restrictedpython(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(metadata, "version", lambda name: "7.4")
    reason = RestrictedPythonExecutor(ExecutorContext(data_dir=tmp_path)).unavailable()
    assert reason is not None and "RestrictedPython 7.4" in reason


def test_unavailable_executor_is_an_error_not_a_fallback(athena, monkeypatch) -> None:
    monkeypatch.setattr(metadata, "version", lambda name: "7.4")
    with pytest.raises(SandboxUnavailableError, match="restrictedpython"):
        athena.execute("1")


def test_never_chosen_automatically(open_athena) -> None:
    athena = open_athena()  # no [execution] executor: Athena picks on its own
    try:
        chosen = athena.execution.executor()
    except SandboxUnavailableError:
        return  # no OS sandbox here: Athena refuses rather than pick this one
    assert chosen.name in ("bwrap", "srt")
