"""A plugin installed with pip is discovered, listed and selected through config.

Runs in the ``integration`` tox env, where ``contrib/plugin-template`` is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from athena_core import Athena

pytest.importorskip("athena_plugin_template",
                    reason="the integration env installs contrib/plugin-template")


def athena_cli(home, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ATHENA_")}
    return subprocess.run([sys.executable, "-m", "athena_core.cli", "--home", str(home), *args],
                          capture_output=True, text=True, env={**clean, **(env or {})},
                          check=False)


def test_plugins_list_shows_the_installed_plugin(tmp_path) -> None:
    result = athena_cli(tmp_path, "plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    template = plugins["template"]
    assert template["distribution"] == "athena-plugin-template"
    assert template["version"] == "0.1.0"
    assert template["hooks"] == ["athena_register_api", "athena_register_embedders"]
    assert template["provides"]["embedder"] == ["char-trigrams"]


def test_selected_through_config_file(tmp_path) -> None:
    (tmp_path / "athena.toml").write_text(
        '[retrieval]\nembedder = "char-trigrams"\nembedder_options = { dimension = 128 }\n')
    with Athena.open(tmp_path) as athena:
        assert athena.index.embedder.identity == "char-trigrams-v1/128"
        athena.remember("kubernetes deployment runbook")
        athena.remember("coffee machine manual")
        # A typo finds it through the plugin's embedder (no shared word for full-text search).
        assert athena.recall("kubernets deploymnet", k=1)[0].text == "kubernetes deployment runbook"
        assert athena.template.word_count("three more words") == 3


def test_selected_through_environment_and_checked_by_cli(tmp_path) -> None:
    env = {"ATHENA_RETRIEVAL_EMBEDDER": "char-trigrams"}
    assert athena_cli(tmp_path, "config", "check", env=env).returncode == 0
    assert athena_cli(tmp_path, "remember", "hello from the plugin", env=env).returncode == 0
    result = athena_cli(tmp_path, "recall", "helo plugin", "--json", env=env)
    assert json.loads(result.stdout)[0]["text"] == "hello from the plugin"


def test_switching_embedder_requires_reindex(tmp_path) -> None:
    with Athena.open(tmp_path) as athena:
        athena.remember("stored with the hashing embedder")
    env = {"ATHENA_RETRIEVAL_EMBEDDER": "char-trigrams"}
    # Recall still works, by full text only, and says why; writing vectors is refused.
    result = athena_cli(tmp_path, "recall", "hashing", "--json", env=env)
    assert result.returncode == 0 and "athena reindex" in result.stderr
    assert json.loads(result.stdout)[0]["text"] == "stored with the hashing embedder"
    result = athena_cli(tmp_path, "remember", "stored with trigrams", env=env)
    assert result.returncode == 1 and "athena reindex" in result.stderr
    assert athena_cli(tmp_path, "reindex", env=env).returncode == 0
    result = athena_cli(tmp_path, "recall", "hashing embeder", "--json", env=env)
    assert json.loads(result.stdout)[0]["text"] == "stored with the hashing embedder"


def test_blocking_the_plugin_makes_its_name_unknown(tmp_path) -> None:
    env = {"ATHENA_RETRIEVAL_EMBEDDER": "char-trigrams", "ATHENA_PLUGINS_BLOCK": "template"}
    result = athena_cli(tmp_path, "config", "check", env=env)
    assert result.returncode == 1
    assert "Unknown embedder 'char-trigrams'. Available: 'hashing'" in result.stdout
