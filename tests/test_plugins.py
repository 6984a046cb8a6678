"""The plugin host: discovery, registration, attribution of failures, selection by name."""

from __future__ import annotations

import types

import pytest

from athena_core import Athena, hookimpl
from athena_core.config import PluginsConfig
from athena_core.errors import DuplicateNameError, PluginLoadError, UnknownNameError
from athena_core.plugins import PluginHost
from athena_core.retrieval import HashingEmbedder
from tests.conftest import DATABASE_URL, make_config


def plugin_module(name: str, **hooks: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, function)
    return module


def embedders_plugin(name: str, *embedder_names: str) -> types.ModuleType:
    @hookimpl
    def athena_register_embedders(register):
        for embedder_name in embedder_names:
            register(embedder_name, HashingEmbedder.from_context)

    return plugin_module(name, athena_register_embedders=athena_register_embedders)


def test_builtins_come_from_athena_core_entry_points() -> None:
    host = PluginHost()
    host.load_entry_points()
    infos = {info.name: info for info in host.plugins()}
    assert infos["athena.memory"].distribution == "athena-core"
    assert infos["athena.memory"].version
    assert "athena_register_memory_layers" in infos["athena.memory"].hooks
    assert host.registry("embedder").names() == ["hashing"]
    assert host.registry("vector backend").provider("exact") == "athena.retrieval"


def test_duplicate_registered_name_names_both_plugins() -> None:
    host = PluginHost(PluginsConfig(strict=True))
    host.register(embedders_plugin("first", "shared"))
    host.register(embedders_plugin("second", "shared"))
    with pytest.raises(DuplicateNameError) as caught:
        host.registry("embedder")
    assert "'first'" in str(caught.value) and "'second'" in str(caught.value)


def test_a_duplicate_name_disables_the_plugin_that_registered_it_second() -> None:
    host = PluginHost()
    host.register(embedders_plugin("first", "shared"))
    host.register(embedders_plugin("second", "shared", "other"))
    embedders = host.registry("embedder")
    assert embedders.names() == ["shared"] and embedders.provider("shared") == "first"
    [failed] = host.failures()  # and none of its names: "other" went with it
    assert failed.name == "second"
    assert "'first'" in (failed.error or "") and "'second'" in (failed.error or "")


def test_duplicate_plugin_name_is_rejected() -> None:
    host = PluginHost()
    host.register(embedders_plugin("same", "a"))
    with pytest.raises(DuplicateNameError, match="same"):
        host.register(embedders_plugin("same", "b"))


def test_broken_plugin_is_reported_with_its_name() -> None:
    host = PluginHost()

    def broken() -> object:
        raise ImportError("No module named 'missing_dependency'")

    host._load("broken-plugin", broken, "athena-broken", "1.2")
    [info] = host.failures()
    assert info.name == "broken-plugin" and info.status == "failed"
    assert "athena-broken" in (info.error or "") and "missing_dependency" in (info.error or "")


def test_strict_mode_raises_on_a_broken_plugin() -> None:
    host = PluginHost(PluginsConfig(strict=True))

    def broken() -> object:
        raise RuntimeError("boom")

    with pytest.raises(PluginLoadError) as caught:
        host._load("broken-plugin", broken, "athena-broken", "1.2")
    assert caught.value.plugin == "broken-plugin"
    assert caught.value.distribution == "athena-broken"


def test_block_and_allow_lists() -> None:
    host = PluginHost(PluginsConfig(block=("athena.retrieval",)))
    host.load_entry_points()
    statuses = {info.name: info.status for info in host.plugins()}
    assert statuses["athena.retrieval"] == "blocked"
    assert host.registry("embedder").names() == []

    host = PluginHost(PluginsConfig(allow=("athena.memory",)))
    host.load_entry_points()
    statuses = {info.name: info.status for info in host.plugins()}
    assert statuses["athena.memory"] == "loaded"
    assert statuses["athena.retrieval"] == "not allowed"


def test_block_list_from_environment(data_dir) -> None:
    from athena_core.config import Config

    config = Config.load(data_dir, env={"ATHENA_PLUGINS_BLOCK": "x, athena.retrieval"})
    assert config.plugins.block == ("x", "athena.retrieval")


def test_unknown_backend_name_lists_the_choices(data_dir) -> None:
    config = make_config(data_dir, retrieval={"embedder": "nope"})
    with pytest.raises(UnknownNameError) as caught:
        Athena.open(config=config)
    assert caught.value.choices == ("hashing",)
    assert "'hashing'" in str(caught.value)


def test_plugin_embedder_selected_by_config(athena_factory) -> None:
    athena = athena_factory()
    athena.close()
    extra = embedders_plugin("extra", "tiny")
    config = make_config(athena.config.data_dir, retrieval={"embedder": "tiny",
                                                            "embedder_options": {"dimension": 16}})
    with Athena.open(config=config, plugins=[extra]) as other:
        assert other.index.embedder.dimension == 16
        assert other.plugins.registry("embedder").provider("tiny") == "extra"


@pytest.mark.skipif(bool(DATABASE_URL), reason="needs two databases; the test server has one")
def test_two_instances_with_different_plugins_do_not_interfere(tmp_path) -> None:
    seen: list[str] = []

    @hookimpl
    def athena_after_remember(memory):
        seen.append(memory.text)

    observer = plugin_module("observer", athena_after_remember=athena_after_remember)
    with Athena.open(config=make_config(tmp_path / "a"), plugins=[observer]) as a, \
            Athena.open(config=make_config(tmp_path / "b",
                                           retrieval={"embedder_options": {"dimension": 64}})) as b:
        a.remember("only a has the observer")
        b.remember("b stores without it")
        assert seen == ["only a has the observer"]
        assert a.index.embedder.dimension == 256 and b.index.embedder.dimension == 64
        assert [h.text for h in b.recall("stores")] == ["b stores without it"]


def test_lifecycle_and_event_hooks_are_called(tmp_path) -> None:
    calls: list[str] = []

    class Recorder:
        @hookimpl
        def athena_configure(self, config):
            calls.append("configure")

        @hookimpl
        def athena_startup(self, athena):
            calls.append("startup")

        @hookimpl
        def athena_after_recall(self, query, hits):
            calls.append(f"recall:{query}:{len(hits)}")

        @hookimpl
        def athena_after_forget(self, ids):
            calls.append(f"forget:{len(ids)}")

        @hookimpl
        def athena_shutdown(self, athena):
            calls.append("shutdown")
            raise RuntimeError("a failing shutdown hook must not stop close()")

    with Athena.open(config=make_config(tmp_path), plugins=[Recorder()]) as athena:
        memory_id = athena.remember("hello plugins")
        athena.recall("plugins")
        athena.forget(memory_id)
    assert calls == ["configure", "startup", "recall:plugins:1", "forget:1", "shutdown"]


def test_plugin_api_operation_is_callable(tmp_path) -> None:
    from athena_core.api import operation

    @operation(permissions="read")
    def count_words(athena, text: str) -> int:
        """Count the words of ``text``."""
        return len(text.split())

    @hookimpl
    def athena_register_api(register):
        register("tools.count_words", count_words)

    plugin = plugin_module("tools", athena_register_api=athena_register_api)
    with Athena.open(config=make_config(tmp_path), plugins=[plugin]) as athena:
        assert athena.tools.count_words("three little words") == 3
        op = athena.api.get("tools.count_words")
        assert op.provider == "tools" and op.permissions == {"read"}
        assert op.summary == "Count the words of ``text``."
