"""A plugin's memory layer either works or is refused at open, naming what to fix.

Regression: a layer written the obvious way - subclass ``MemoryLayer``, set ``name``,
declare operations - opened fine, and ``athena.remember(..., layer=...)`` returned
``None`` and stored nothing, because it ran the protocol's empty ``store_generic``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from athena_core import Athena, hookimpl
from athena_core.api import operation
from athena_core.errors import PluginContractError, PluginLoadError
from athena_core.memory import LayerContext, MemoryLayer
from athena_core.memory.values import Memory
from athena_core.storage.models import MemoryRow
from tests.conftest import make_config


def layer_plugin(name: str, factory: Any) -> types.ModuleType:
    @hookimpl
    def athena_register_memory_layers(register: Any) -> None:
        register(name, factory)

    module = types.ModuleType(f"{name}-plugin")
    module.athena_register_memory_layers = athena_register_memory_layers  # type: ignore[attr-defined]
    return module


class OperationsOnlyLayer(MemoryLayer):
    """What a newcomer writes from the hook's description: a name and operations."""

    name = "notes"
    api_namespace = "notes"

    def __init__(self, context: LayerContext) -> None:
        self.store = context.store

    @operation()
    def count(self) -> int:
        """How many notes there are."""
        return 0


class CompleteLayer(OperationsOnlyLayer):
    """The same layer with every member of the protocol implemented."""

    def store_generic(self, text: str, *, metadata: Mapping[str, Any] | None,
                      importance: float, scope: str | None) -> str:
        store = self.store
        text, scope = store.text(text), store.scope(scope)
        metadata, importance = store.metadata(metadata), store.importance(importance)
        vector = store.embed([text])[0]
        with store.transaction() as tx:
            row = tx.insert(layer=self.name, text=text, scope=scope, vector=vector,
                            metadata=metadata, importance=importance)
            tx.stored.append(Memory.from_row(row))
        return row.id

    def export_fields(self, session: Session, keys: list[int]) -> dict[int, dict[str, Any]]:
        return {}

    def import_fields(self, session: Session, row: MemoryRow, fields: Mapping[str, Any]
                      ) -> None:
        return None

    def related_for_forget(self, session: Session, keys: set[int]) -> set[int]:
        return keys


def test_a_layer_missing_protocol_members_is_refused_at_open(tmp_path: Path) -> None:
    plugin = layer_plugin("notes", OperationsOnlyLayer)
    with pytest.raises(PluginContractError) as caught:
        Athena.open(config=make_config(tmp_path), plugins=[plugin]).close()
    message = str(caught.value)
    assert "'notes'" in message and "notes-plugin" in message
    for member in ("store_generic", "export_fields", "import_fields", "related_for_forget"):
        assert member in message
    assert "docs/plugins.md" in message


def test_the_complete_layer_stores_and_recalls(tmp_path: Path) -> None:
    plugin = layer_plugin("notes", CompleteLayer)
    with Athena.open(config=make_config(tmp_path), plugins=[plugin]) as athena:
        memory_id = athena.remember("the spare key is under the blue pot", layer="notes")
        assert isinstance(memory_id, str)
        assert athena.get(memory_id).layer == "notes"
        assert [hit.id for hit in athena.recall("spare key", layers=["notes"])] == [memory_id]
        assert athena.notes.count() == 0


@pytest.mark.parametrize(("attribute", "value"), [("name", "other"), ("api_namespace", "other")])
def test_a_layer_whose_name_differs_from_its_registration_is_refused(
        tmp_path: Path, attribute: str, value: str) -> None:
    renamed = type("Renamed", (CompleteLayer,), {attribute: value})
    with pytest.raises((PluginContractError, PluginLoadError)) as caught:
        Athena.open(config=make_config(tmp_path), plugins=[layer_plugin("notes", renamed)]
                    ).close()
    assert attribute in str(caught.value) and "'other'" in str(caught.value)


def test_a_structural_layer_missing_a_method_is_refused(tmp_path: Path) -> None:
    class Structural:  # no subclassing: the protocol is structural
        name = api_namespace = "notes"

        def __init__(self, context: LayerContext) -> None:
            self.layer = CompleteLayer(context)

        def store_generic(self, text: str, **options: Any) -> str:
            return self.layer.store_generic(text, **options)

    with pytest.raises(PluginContractError, match="export_fields"):
        Athena.open(config=make_config(tmp_path),
                    plugins=[layer_plugin("notes", Structural)]).close()
