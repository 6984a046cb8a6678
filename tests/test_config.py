"""athena.toml + ATHENA_* environment -> frozen config, with errors that list valid choices."""

from __future__ import annotations

import tomllib

import attrs
import pytest

from athena_core.config import Config, default_config_text
from athena_core.errors import ConfigError


def write(data_dir, text: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "athena.toml").write_text(text)


def test_defaults_without_a_file(data_dir) -> None:
    config = Config.load(data_dir, env={})
    assert config.source is None
    assert config.retrieval.embedder == ""
    assert config.database_url == f"sqlite:///{data_dir.resolve() / 'athena.db'}"


def test_athena_home_selects_the_data_dir(tmp_path) -> None:
    config = Config.load(env={"ATHENA_HOME": str(tmp_path / "home")})
    assert config.data_dir == (tmp_path / "home").resolve()


def test_file_values_and_env_overrides(data_dir) -> None:
    write(data_dir, '[memory]\ndefault_scope = "team"\n[retrieval]\ncandidates = 20\n')
    config = Config.load(data_dir, env={"ATHENA_RETRIEVAL_CANDIDATES": "99",
                                        "ATHENA_PLUGINS_STRICT": "yes"})
    assert config.memory.default_scope == "team"
    assert config.retrieval.candidates == 99
    assert config.plugins.strict is True
    assert config.source == data_dir / "athena.toml"


def test_config_is_frozen(data_dir) -> None:
    config = Config.load(data_dir, env={})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.memory = None  # type: ignore[misc]


def test_explicit_config_path(tmp_path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text('[memory]\ndefault_scope = "x"\n')
    config = Config.load(path=path, env={})
    assert config.memory.default_scope == "x" and config.data_dir == tmp_path.resolve()
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(path=tmp_path / "missing.toml", env={})


@pytest.mark.parametrize(("text", "message"), [
    ("[storage]\nurl_typo = 'x'\n", "Valid keys: busy_timeout_ms, open_check_mb, synchronous, url"),
    ("[stroage]\n",
     "Valid sections: audit, execution, mcp, memory, plugins, policies, privacy, procedures,"
     " retrieval, storage"),
    ("[retrieval]\ncandidates = 'many'\n", "wrong type"),
    ("[retrieval]\ncandidates = 0\n", "Invalid value"),
    ("[storage]\nsynchronous = 'sometimes'\n", "Invalid value"),
    ("[plugins]\nallow = 'one'\n", "wrong type"),
    ("this is not toml", "not valid TOML"),
])
def test_invalid_files_are_errors_that_say_why(data_dir, text: str, message: str) -> None:
    write(data_dir, text)
    with pytest.raises(ConfigError, match=message):
        Config.load(data_dir, env={})


def test_unknown_environment_key_lists_valid_ones(data_dir) -> None:
    with pytest.raises(ConfigError, match="ATHENA_RETRIEVAL_EMBEDDER"):
        Config.load(data_dir, env={"ATHENA_RETRIEVAL_EMBEDER": "x"})


@pytest.mark.parametrize(("var", "value"), [("ATHENA_RETRIEVAL_RRF_K", "ten"),
                                            ("ATHENA_PLUGINS_STRICT", "maybe")])
def test_bad_environment_values(data_dir, var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Config.load(data_dir, env={var: value})


def test_default_config_text_is_the_defaults(data_dir) -> None:
    write(data_dir, default_config_text())
    loaded = Config.load(data_dir, env={})
    assert attrs.evolve(loaded, source=None) == Config(data_dir=loaded.data_dir)
    assert tomllib.loads(default_config_text())["retrieval"]["embedder"] == ""
