"""The ``athena`` command, run for real as a subprocess against a temporary data dir."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import athena_core

COMMANDS = {"init", "remember", "recall", "forget", "timeline", "plugins", "config", "export",
            "import", "run", "reindex", "doctor", "demo", "apis", "serve", "audit", "mcp",
            "procedures", "privacy", "keys", "graph", "tasks", "tick"}


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATHENA_")}
    # Word-level vectors, whatever embedder plugins the environment has installed.
    env.update(ATHENA_HOME=str(home), PYTHONIOENCODING="utf-8",
               ATHENA_RETRIEVAL_EMBEDDER="hashing", **extra)
    return env


def athena(home: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    """Run ``athena ARGS`` with ``ATHENA_HOME=home`` and a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "athena_core.cli", *args], input=stdin, capture_output=True,
        text=True, encoding="utf-8", env=env or _env(home), cwd=home.parent, timeout=120)


def ok_json(home: Path, *args: str, **kwargs) -> object:
    """Run a command with ``--json``, check it succeeded and return the parsed output."""
    proc = athena(home, *args, "--json", **kwargs)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _remember(home: Path, text: str, *args: str) -> str:
    return ok_json(home, "remember", text, *args)["id"]


def _recall_ids(home: Path, query: str, *args: str) -> list[str]:
    return [hit["id"] for hit in ok_json(home, "recall", query, *args)]


# --- help, init, config ----------------------------------------------------------


def test_help_lists_every_command_and_bare_athena_is_usage_error(home):
    script = shutil.which("athena", path=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert script, "the athena console script is not installed"
    proc = subprocess.run([script, "--help"], capture_output=True, text=True,
                          env=_env(home), timeout=60)
    assert proc.returncode == 0, proc.stderr
    commands_section = proc.stdout.split("commands:", 1)[1].split("examples:", 1)[0]
    listed = set(re.findall(r"^\s{4}(\S+)\s{2,}\S", commands_section, flags=re.MULTILINE))
    assert listed == COMMANDS

    version_proc = athena(home, "--version")
    assert version_proc.returncode == 0
    assert version_proc.stdout.strip() == f"athena {athena_core.__version__}"

    bare = athena(home)
    assert bare.returncode == 2
    assert "remember" in bare.stdout + bare.stderr
    assert not home.exists(), "help and --version must not create the data dir"


def test_init_writes_a_commented_config_that_check_accepts(home):
    first = athena(home, "init")
    assert first.returncode == 0, first.stderr
    config = home / "athena.toml"
    text = config.read_text(encoding="utf-8")
    assert str(config) in first.stdout
    for section in ("[storage]", "[memory]", "[retrieval]", "[plugins]"):
        assert section in text
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 5

    check = ok_json(home, "config", "check")
    assert check["ok"] is True
    assert check["problems"] == []
    assert Path(check["source"]).resolve() == config.resolve()

    config.write_text(text + "# my own note\n", encoding="utf-8")
    again = athena(home, "init")
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert config.read_text(encoding="utf-8").endswith("# my own note\n")

    forced = athena(home, "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert config.read_text(encoding="utf-8") == text


def test_config_show_reflects_environment_override(home):
    env = _env(home, ATHENA_RETRIEVAL_CANDIDATES="77")
    shown = ok_json(home, "config", "show", env=env)
    assert shown["retrieval"]["candidates"] == 77
    assert shown["retrieval"]["embedder"] == "hashing"  # _env sets it too
    assert Path(shown["data_dir"]) == home.resolve()
    assert shown["source"] is None  # no athena.toml yet: all defaults


def test_unknown_config_key_fails_with_the_valid_keys(home):
    home.mkdir()
    (home / "athena.toml").write_text('[memory]\ndefault_scop = "team"\n', encoding="utf-8")

    check = athena(home, "config", "check")
    assert check.returncode == 1
    assert "default_scop" in check.stderr
    assert "default_scope" in check.stderr
    assert "max_text_bytes" in check.stderr

    remember = athena(home, "remember", "something", "--json")
    assert remember.returncode == 1
    error = json.loads(remember.stdout)["error"]
    assert error["type"] == "ConfigError"
    assert "default_scop" in error["message"]
    assert "default_scope" in error["message"]
    assert not (home / "athena.db").exists()

    doctor = athena(home, "doctor", "--json")
    assert doctor.returncode == 1
    report = json.loads(doctor.stdout)
    assert report["ok"] is False
    assert {c["name"]: c["status"] for c in report["checks"]}["config"] == "fail"


def test_unknown_embedder_fails_check_listing_available_names(home):
    home.mkdir()
    (home / "athena.toml").write_text('[retrieval]\nembedder = "no-such-embedder"\n',
                                      encoding="utf-8")
    env = {k: v for k, v in _env(home).items() if k != "ATHENA_RETRIEVAL_EMBEDDER"}
    check = athena(home, "config", "check", env=env)
    assert check.returncode == 1
    assert "no-such-embedder" in check.stdout
    assert "'hashing'" in check.stdout


# --- remember / recall / forget / timeline --------------------------------------


def test_remember_then_recall_in_text_and_json(home):
    deploy_id = _remember(home, "Deploys go through staging first",
                          "--metadata", '{"source": "runbook", "team": "ops"}')
    stdin_id = athena(home, "remember", "-", "--metadata", '{"source": "chat"}',
                      stdin="Staging deploys need a green build\nand a reviewer\n")
    assert stdin_id.returncode == 0, stdin_id.stderr
    stdin_id = stdin_id.stdout.strip()
    assert re.fullmatch(r"[0-9A-Z]{26}", stdin_id)

    text = athena(home, "recall", "how do deploys work", "-k", "5")
    assert text.returncode == 0, text.stderr
    assert "Deploys go through staging first" in text.stdout
    assert deploy_id in text.stdout

    hits = ok_json(home, "recall", "staging deploys")
    by_id = {hit["id"]: hit for hit in hits}
    assert set(by_id) == {deploy_id, stdin_id}
    for hit in hits:
        assert {"id", "text", "score", "layer", "metadata"} <= set(hit)
        assert hit["layer"] == "semantic"
        assert isinstance(hit["score"], float)
    assert by_id[deploy_id]["metadata"] == {"source": "runbook", "team": "ops"}
    assert by_id[stdin_id]["text"].rstrip("\n") == "Staging deploys need a green build\n" \
                                                   "and a reviewer"

    assert _recall_ids(home, "staging deploys", "--metadata", '{"source": "chat"}') == [stdin_id]


def test_episodic_memory_shows_in_timeline(home):
    event_id = _remember(home, "Ran the unit tests: 3 failures", "--layer", "episodic",
                         "--metadata", '{"branch": "main"}')
    events = ok_json(home, "timeline")
    assert [e["id"] for e in events] == [event_id]
    event = events[0]
    assert event["text"] == "Ran the unit tests: 3 failures"
    assert event["layer"] == "episodic"
    assert event["kind"] == "observation"
    assert "session" in event
    assert event["session"] is None
    assert event["metadata"] == {"branch": "main"}

    assert event["actor"] is None
    assert ok_json(home, "timeline", "--kind", "deployment") == []
    assert ok_json(home, "timeline", "--actor", "Dana") == []


def test_scopes_are_isolated(home):
    memory_id = _remember(home, "The launch code is in the blue folder", "--scope", "team:a")
    assert _recall_ids(home, "launch code blue folder", "--scope", "team:b") == []
    assert _recall_ids(home, "launch code blue folder") == []  # default scope
    assert _recall_ids(home, "launch code blue folder", "--scope", "team:a") == [memory_id]


def test_forget_by_id_removes_the_memory(home):
    gone = _remember(home, "The wifi password is hunter2")
    kept = _remember(home, "The wifi network is called office-5g")
    assert ok_json(home, "forget", gone) == {"deleted": 1}
    assert _recall_ids(home, "wifi password network") == [kept]


def test_forget_unknown_id_is_an_error(home):
    plain = athena(home, "forget", "NO-SUCH-ID")
    assert plain.returncode == 1
    assert plain.stdout == ""
    assert "NO-SUCH-ID" in plain.stderr
    assert plain.stderr.startswith("error:")

    as_json = athena(home, "forget", "NO-SUCH-ID", "--json")
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "MemoryNotFoundError"
    assert "NO-SUCH-ID" in error["message"]


def test_invalid_metadata_json_is_a_usage_error(home):
    bad = athena(home, "remember", "not stored", "--metadata", "{source: runbook}")
    assert bad.returncode == 2
    assert "JSON" in bad.stderr
    assert _recall_ids(home, "not stored") == []


# --- plugins, doctor, demo, reindex -----------------------------------------------


def test_plugins_list_shows_builtin_plugins(home):
    plugins = {p["name"]: p for p in ok_json(home, "plugins", "list")}
    expected_version = version("athena-core")
    expected_hooks = {
        "athena.memory": {"athena_register_memory_layers"},
        "athena.retrieval": {"athena_register_embedders", "athena_register_vector_backends"},
    }
    for name, hooks in expected_hooks.items():
        info = plugins[name]
        assert info["distribution"] == "athena-core"
        assert info["version"] == expected_version
        assert hooks <= set(info["hooks"])
        assert info["status"] == "loaded"
        assert info["error"] is None
    assert "hashing" in plugins["athena.retrieval"]["provides"]["embedder"]
    assert "exact" in plugins["athena.retrieval"]["provides"]["vector backend"]
    assert "episodic" in plugins["athena.memory"]["provides"]["memory layer"]
    text = athena(home, "plugins", "list").stdout
    assert "    embedder: hashing" in text


def test_doctor_on_fresh_home_then_after_first_memory(home):
    assert athena(home, "init").returncode == 0
    fresh = ok_json(home, "doctor")
    assert fresh["ok"] is True
    statuses = {c["name"]: c for c in fresh["checks"]}
    assert statuses["config"]["status"] == "ok"
    assert statuses["data dir"]["status"] == "ok"
    assert statuses["database"]["status"] == "warn"
    assert all(c["status"] != "fail" for c in fresh["checks"])

    _remember(home, "first memory")
    after = ok_json(home, "doctor")
    assert after["ok"] is True
    checks = {c["name"]: c for c in after["checks"]}
    assert checks["database"]["status"] == "ok"
    assert "athena.db" in checks["database"]["detail"]
    assert checks["embedder"]["status"] == "ok"


def test_doctor_checks_the_sandbox_client_files(home, tmp_path):
    """A missing athena.mjs (a wheel built without its package data) fails, naming the
    file and the fix; tests/integration/test_wheel.py meets it in an installed wheel."""
    import athena_core.sandbox_client as client
    from athena_core import doctor

    assert athena(home, "init").returncode == 0
    checks = {c["name"]: c for c in ok_json(home, "doctor")["checks"]}
    assert checks["sandbox client"]["status"] == "ok"
    copy = tmp_path / "sandbox_client"
    shutil.copytree(Path(client.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert doctor._sandbox_client(copy).status == "ok"
    (copy / "athena.mjs").unlink()
    check = doctor._sandbox_client(copy)
    assert check.status == "fail"
    assert f"missing {copy / 'athena.mjs'}:" in check.detail
    assert check.fix.startswith("Reinstall athena-core")


def test_the_sandbox_client_file_list_names_every_file_there():
    """What doctor checks is what executors mount (the whole directory)."""
    import athena_core.sandbox_client as client

    directory = Path(client.__file__).parent
    present = {p.name for p in directory.iterdir()
               if p.is_file() and p.name != "__init__.py" and p.suffix != ".pyc"}
    assert present == set(client.FILES)


def _bwrap_installed() -> bool:
    from athena_core.plugins import PluginHost

    host = PluginHost()
    host.load_entry_points()
    return "bwrap" in host.registry("executor")


@pytest.mark.skipif(not _bwrap_installed(), reason="needs the athena-bwrap plugin")
def test_doctor_and_plugins_list_show_the_isolation_in_force(home):
    import platform

    from athena_core.execution.model import ISOLATION_FEATURES

    assert athena(home, "init").returncode == 0
    checks = {c["name"]: c for c in ok_json(home, "doctor")["checks"]}
    report = checks["isolation bwrap"]["isolation"]
    assert report["executor"] == "bwrap" and report["reported"] is True
    assert list(report["features"]) == list(ISOLATION_FEATURES)
    seccomp = report["features"]["seccomp"]
    if platform.machine() in ("x86_64", "aarch64"):
        assert seccomp["on"] is True and seccomp["detail"].startswith(platform.machine())
    else:
        assert seccomp["on"] is False and report["available"] is False
    text = athena(home, "doctor").stdout
    assert "isolation bwrap:" in text
    assert re.search(r"^\s+seccomp\s+(on |OFF)\s+\S", text, re.MULTILINE), text

    plugins = {p["name"]: p for p in ok_json(home, "plugins", "list")}
    assert plugins["bwrap"]["isolation"]["bwrap"]["features"] == report["features"]
    assert plugins["athena.memory"]["isolation"] == {}
    listed = athena(home, "plugins", "list").stdout
    assert "    executor bwrap: " in listed
    assert re.search(r"^\s+namespaces\s+on \s+\S", listed, re.MULTILINE), listed


@pytest.mark.skipif(not _bwrap_installed(), reason="needs the athena-bwrap plugin")
def test_seccomp_turned_off_is_shown_as_off_with_the_reason(home):
    assert athena(home, "init").returncode == 0
    config = home / "athena.toml"
    text = config.read_text(encoding="utf-8")
    assert text.count("[execution.executor_options]\n") == 1
    config.write_text(text.replace("[execution.executor_options]\n",
                                   '[execution.executor_options]\nseccomp = "off"\n'),
                      encoding="utf-8")
    doctor = json.loads(athena(home, "doctor", "--json").stdout)
    check = {c["name"]: c for c in doctor["checks"]}["isolation bwrap"]
    assert check["status"] == "warn"
    assert check["isolation"]["features"]["seccomp"] == {
        "on": False, "detail": 'turned off by [execution.executor_options] seccomp = "off"'}
    assert re.search(r"^\s+seccomp\s+OFF\s+turned off by", athena(home, "doctor").stdout,
                     re.MULTILINE)
    listed = athena(home, "plugins", "list").stdout
    assert re.search(r"^\s+seccomp\s+OFF\s+turned off by", listed, re.MULTILINE), listed


def _sandbox_available() -> bool:
    from athena_core.plugins import PluginHost

    host = PluginHost()
    host.load_entry_points()
    return "bwrap" in host.registry("executor") and shutil.which("bwrap") is not None


def test_demo_runs_end_to_end_without_touching_the_data_dir(home):
    proc = athena(home, "demo", "--json")
    report = json.loads(proc.stdout)
    by_step = {step["step"]: step for step in report["steps"]}
    sandbox = by_step["execute code in the sandbox"]
    if _sandbox_available():
        assert proc.returncode == 0, proc.stderr
        assert report["ok"] is True
        assert sandbox["status"] == "ok"
        assert sandbox["bridge_calls"] == ["recall", "remember"]
        assert sandbox["returned"][0].startswith("Deploys")
    else:  # only athena-core installed: says so and how to fix it, never runs unsandboxed
        assert proc.returncode == 1
        assert report["ok"] is False
        assert sandbox["status"] == "unavailable"
        assert "bubblewrap" in sandbox["fix"]
    steps = [step["step"] for step in report["steps"]]
    assert steps[0] == "remember"
    assert any(step.startswith("recall") for step in steps)
    assert "episodic timeline" in steps
    assert "forget" in steps
    assert by_step["remember"]["stored"] == 4
    assert len(by_step["episodic timeline"]["events"]) == 2
    assert by_step["update (supersede) and as_of"]["now"].startswith("Carol")
    assert by_step["update (supersede) and as_of"]["as_of_before"].startswith("Alice")
    assert not home.exists(), "the demo must not write into ATHENA_HOME"


def test_reindex_reembeds_and_recall_still_works(home):
    memory_id = _remember(home, "Reindexing keeps memories findable")
    result = ok_json(home, "reindex")
    assert result["reindexed"] == 1
    assert result["embedder"].startswith("hashing")
    assert _recall_ids(home, "memories findable after reindexing") == [memory_id]


# --- options given before the command ----------------------------------------------


def test_home_option_before_the_command_is_honoured(tmp_path):
    env_home, chosen = tmp_path / "env-home", tmp_path / "chosen"
    stored = athena(env_home, "--home", str(chosen), "remember", "kept in the chosen dir")
    assert stored.returncode == 0, stored.stderr
    assert (chosen / "athena.db").exists(), "--home before the command was ignored"
    assert not env_home.exists()


def test_json_option_before_the_command_is_honoured(home):
    proc = athena(home, "--json", "forget", "NO-SUCH-ID")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["type"] == "MemoryNotFoundError"
