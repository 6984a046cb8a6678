"""Faulty plugins are contained: one plugin's fault never stops Athena or another plugin.

The plugins are in ``tests/faulty_plugins``, written as a third party would write them.
Some tests register them directly (``Athena.open(plugins=[...])``); those that run the
``athena`` command install them as an entry point (a ``.dist-info`` on ``PYTHONPATH``),
because the command only finds installed plugins.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from athena_core import Athena, hookimpl
from athena_core.config import Config
from athena_core.errors import OptionError, PluginLoadError
from athena_core.plugins import PluginHost
from athena_core.transfer import export_jsonl, import_jsonl
from tests.conftest import _empty_database, make_config
from tests.faulty_plugins import ledger, observer, strict_options
from tests.faulty_plugins.reserved import ReservedNamePlugin
from tests.sandbox import require_sandbox

ROOT = Path(__file__).parent.parent
LEDGER = "tests.faulty_plugins.ledger"


@pytest.fixture(autouse=True)
def _fresh_database() -> None:
    """Each test starts from an empty PostgreSQL database (SQLite: its own data dir)."""
    _empty_database()


def lenient(data_dir: Path, **sections: dict[str, Any]) -> Config:
    """A test config with ``[plugins] strict = false`` (a user's default)."""
    return make_config(data_dir, plugins={"strict": False}, **sections)


# --- operations checked at open ----------------------------------------------------------


def test_hints_that_do_not_resolve_disable_only_their_plugin(tmp_path: Path) -> None:
    ledger.SEEN.clear()
    with Athena.open(config=lenient(tmp_path), plugins=[ledger]) as athena:
        [failed] = athena.plugins.failures()
        assert failed.name == LEDGER and failed.status == "failed"
        assert "ledger.total" in (failed.error or "") and "Decimal" in (failed.error or "")
        assert "ledger.total" not in athena.api
        assert athena.plugins.manager.get_plugin(LEDGER) is None  # hooks too
        memory_id = athena.remember("a memory stored beside a faulty plugin")
        assert [hit.id for hit in athena.recall("faulty plugin")] == [memory_id]
        assert ledger.SEEN == []  # its observer was never called
        # What every sandboxed run builds first: the tree of callable operations.
        tree = athena.execution.api_tree(athena.execution.policy(None))
        assert tree is not None and (tree / "recall.py").is_file()
        assert not (tree / "ledger").exists()


@require_sandbox()
def test_a_program_runs_beside_a_plugin_whose_hints_do_not_resolve(tmp_path: Path) -> None:
    with Athena.open(config=lenient(tmp_path), plugins=[ledger]) as athena:
        athena.remember("programs still run")
        result = athena.execute("import athena\nprint(athena.recall('programs')[0].text)")
        assert result.ok, result.error
        assert result.stdout == "programs still run\n"


def test_strict_mode_refuses_to_open_naming_the_plugin(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError) as caught:
        Athena.open(config=make_config(tmp_path), plugins=[ledger])
    assert caught.value.plugin == LEDGER
    assert type(caught.value.cause).__name__ == "OperationDeclarationError"
    assert "ledger.total" in str(caught.value) and "Decimal" in str(caught.value)


@pytest.mark.parametrize("name", ["remember", "execute", "api.lookup", "plugins.lookup",
                                  "errors.lookup", "operations", "import.lookup",
                                  "_private.lookup", "two words", "ledger..lookup", ""])
def test_a_reserved_or_invalid_name_disables_only_its_plugin(tmp_path: Path, name: str) -> None:
    plugin = ReservedNamePlugin(name)
    with Athena.open(config=lenient(tmp_path), plugins=[plugin]) as athena:
        [failed] = athena.plugins.failures()
        assert failed.name == "ReservedNamePlugin"
        assert repr(name) in (failed.error or "")
        assert athena.api.get("remember").provider == "athena-core"
        assert athena.get(athena.remember("Athena opened")).text == "Athena opened"


def test_a_reserved_name_in_strict_mode_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="'remember'") as caught:
        Athena.open(config=make_config(tmp_path), plugins=[ReservedNamePlugin("remember")])
    assert caught.value.plugin == "ReservedNamePlugin"


def test_a_valid_plugin_operation_beside_a_faulty_plugin_still_works(tmp_path: Path) -> None:
    fine = ReservedNamePlugin("notes.lookup")
    with Athena.open(config=lenient(tmp_path), plugins=[ledger, fine]) as athena:
        assert [info.name for info in athena.plugins.failures()] == [LEDGER]
        assert athena.notes.lookup("four") == 4


def test_the_plugin_host_alone_marks_the_plugin_failed() -> None:
    """``athena plugins list`` and ``config check`` use a plugin host without opening."""
    host = PluginHost()
    host.load_entry_points()
    host.register(ledger, name="ledger")
    assert host.registry("api operation").names() == []
    [failed] = host.failures()
    assert failed.name == "ledger" and "Decimal" in (failed.error or "")


# --- observers: after the commit, failures logged --------------------------------------


def test_a_raising_observer_never_fails_the_write(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="athena"), \
            Athena.open(config=make_config(tmp_path), plugins=[observer]) as athena:
        memory_id = athena.remember("stored once, whatever the observer does")
        assert athena.get(memory_id).text == "stored once, whatever the observer does"
        hits = athena.recall("stored once")
        assert [hit.id for hit in hits] == [memory_id]  # exactly one copy
        assert athena.forget(memory_id) == 1
    records = [r for r in caplog.records if getattr(r, "plugin", None)]
    assert [(r.plugin, r.hook) for r in records] == [  # type: ignore[attr-defined]
        ("tests.faulty_plugins.observer", "athena_after_remember"),
        ("tests.faulty_plugins.observer", "athena_after_forget")]
    assert "tests.faulty_plugins.observer" in records[0].getMessage()
    assert records[0].exc_info is not None


def test_observers_run_after_the_commit(tmp_path: Path) -> None:
    seen: list[int] = []

    class Counter:
        @hookimpl
        def athena_after_remember(self, athena: Athena, memory: Any) -> None:
            # Another connection sees the memory: the write is committed.
            with athena.storage.read() as session:  # type: ignore[union-attr]
                from sqlalchemy import func, select

                from athena_core.storage.models import MemoryRow
                seen.append(session.scalar(select(func.count()).select_from(MemoryRow)
                                           .where(MemoryRow.id == memory.id)) or 0)

    with Athena.open(config=make_config(tmp_path), plugins=[Counter()]) as athena:
        athena.remember("committed before observers hear of it")
    assert seen == [1]


# --- events for import, supersede and forget --------------------------------------------


class Recorder:
    """Records every event it receives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def athena_after_import(self, report: Any) -> None:
        self.events.append(("import", report))

    @hookimpl
    def athena_after_supersede(self, old: Any, new: Any) -> None:
        self.events.append(("supersede", (old, new)))

    @hookimpl
    def athena_after_forget(self, ids: Any) -> None:
        self.events.append(("forget", sorted(ids)))


def test_supersede_import_and_forget_fire_events(tmp_path: Path) -> None:
    recorder = Recorder()
    with Athena.open(config=make_config(tmp_path / "a"), plugins=[recorder]) as athena:
        first = athena.remember("deploys go through staging")
        second = athena.semantic.update(first, "deploys go through canary", reason="new flow")
        [(kind, (old, new))] = recorder.events
        assert kind == "supersede"
        assert (old.id, old.text, old.superseded_by, old.supersede_reason) == (
            first, "deploys go through staging", second, "new flow")
        assert old.valid_to is not None
        assert (new.id, new.text, new.version) == (second, "deploys go through canary", 2)
        out = io.StringIO()
        export_jsonl(athena, out)
        recorder.events.clear()
        assert athena.forget(second) == 2
        assert recorder.events == [("forget", sorted([first, second]))]

    recorder.events.clear()
    with Athena.open(config=make_config(tmp_path / "b"), plugins=[recorder]) as other:
        report = import_jsonl(other, io.BytesIO(out.getvalue().encode()))
        assert recorder.events == [("import", report)]
        assert report.imported == 2


# --- selected plugins are instantiated by config check and doctor ----------------------


def installed(tmp_path: Path, name: str, module: str) -> dict[str, str]:
    """An environment for ``athena`` in which ``module`` is installed as plugin ``name``."""
    site = tmp_path / "site"
    dist = site / f"athena_test_{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: athena-test-{name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[athena.plugins]\n{name} = {module}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATHENA_")}
    paths = [str(site), str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
    env.update(PYTHONPATH=":".join(paths), ATHENA_HOME=str(tmp_path / "home"),
               PYTHONIOENCODING="utf-8")
    return env


def athena_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "athena_core.cli", *args],
                          capture_output=True, text=True, env=env, timeout=120,
                          cwd=env["ATHENA_HOME"].rsplit("/", 1)[0])


def test_plugins_list_and_doctor_show_the_failed_plugin(tmp_path: Path) -> None:
    env = installed(tmp_path, "ledger", LEDGER)
    env["ATHENA_RETRIEVAL_EMBEDDER"] = "hashing"
    listed = athena_command(env, "plugins", "list", "--json")
    assert listed.returncode == 1, listed.stderr
    [info] = [i for i in json.loads(listed.stdout) if i["name"] == "ledger"]
    assert info["status"] == "failed" and info["distribution"] == "athena-test-ledger"
    assert "ledger.total" in info["error"] and "Decimal" in info["error"]
    assert athena_command(env, "remember", "still works").returncode == 0
    doctor = athena_command(env, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["plugin ledger"]["status"] == "fail"
    assert "Decimal" in checks["plugin ledger"]["detail"]
    assert checks["database"]["status"] == "ok"


@pytest.mark.parametrize(("section", "table", "selection"), [
    ("retrieval", "embedder_options", {"embedder": "strict-embedder"}),
    ("retrieval", "vector_options", {"vector_backend": "strict-backend"}),
    ("execution", "executor_options", {"executor": "strict-executor"}),
])
def test_config_check_and_doctor_refuse_invalid_plugin_options(
        tmp_path: Path, section: str, table: str, selection: dict[str, str]) -> None:
    env = installed(tmp_path, "strict-options", "tests.faulty_plugins.strict_options")
    home = Path(env["ATHENA_HOME"])
    home.mkdir()
    lines = [f"[{section}]", *(f'{k} = "{v}"' for k, v in selection.items())]
    if section == "execution":
        lines += ["[retrieval]", 'embedder = "hashing"']
    elif "embedder" not in selection:
        lines += ['embedder = "hashing"']
    (home / "athena.toml").write_text("\n".join([*lines, f"[{section}.{table}]",
                                                 "colour = 3"]) + "\n")
    check = athena_command(env, "config", "check", "--json")
    assert check.returncode == 1, check.stderr
    [problem] = json.loads(check.stdout)["problems"]
    assert "'strict-options'" in problem and "'colour'" in problem and table in problem
    doctor = athena_command(env, "doctor", "--json")
    assert doctor.returncode == 1
    failed = [c for c in json.loads(doctor.stdout)["checks"] if c["status"] == "fail"]
    assert any("'strict-options'" in c["detail"] and "'colour'" in c["detail"]
               for c in failed), failed

    (home / "athena.toml").write_text("\n".join([*lines, f"[{section}.{table}]"]) + "\n")
    check = athena_command(env, "config", "check", "--json")
    assert json.loads(check.stdout)["problems"] == [], check.stdout


def test_opening_with_invalid_options_names_the_plugin(tmp_path: Path) -> None:
    config = make_config(tmp_path, retrieval={"embedder": "strict-embedder",
                                              "embedder_options": {"width": 2}})
    with pytest.raises(OptionError) as caught:
        Athena.open(config=config, plugins=[strict_options])
    message = str(caught.value)
    assert "'tests.faulty_plugins.strict_options'" in message and "width" in message


def test_a_memory_layer_is_checked_when_athena_makes_it(tmp_path: Path) -> None:
    from tests.faulty_plugins import notebook

    with Athena.open(config=lenient(tmp_path), plugins=[notebook]) as athena:
        [failed] = athena.plugins.failures()
        assert failed.name == "tests.faulty_plugins.notebook"
        assert "notebook.page" in (failed.error or "") and "Fraction" in (failed.error or "")
        assert "notebook" not in athena.layers and "notebook.page" not in athena.api
        assert athena.get(athena.remember("still open")).text == "still open"
    with pytest.raises(PluginLoadError, match="Fraction") as caught:
        Athena.open(config=make_config(tmp_path), plugins=[notebook])
    assert caught.value.plugin == "tests.faulty_plugins.notebook"


def test_reserved_names_cover_every_name_athena_and_programs_already_use(
        athena: Athena, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import athena_core.sandbox_client as client

    reserved = Athena.reserved_names()
    assert {name for name in vars(athena) if not name.startswith("_")} <= reserved
    assert {"remember", "recall", "forget", "get", "execute", "api", "plugins"} <= reserved
    monkeypatch.syspath_prepend(str(Path(client.__file__).parent))
    import athena_module  # the sandbox's module, as a program imports it

    module = athena_module.build([], types.SimpleNamespace())
    assert {name for name in vars(module) if not name.startswith("_")} <= reserved
