"""hookspecs.py is the contract: every hook documented, in docs/hooks.md too, and typed."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import pytest

from athena_core import hookspecs
from athena_core.plugins import FAMILIES, hook_names

DOCS = Path(__file__).parent.parent / "docs" / "hooks.md"
HOOKS = sorted(hook_names())


def test_every_family_of_the_architecture_is_declared() -> None:
    expected = {"athena_register_memory_layers", "athena_register_vector_backends",
                "athena_register_embedders", "athena_register_executors", "athena_register_api",
                "athena_register_pii_detectors", "athena_register_key_providers",
                "athena_register_marketplace_sources", "athena_register_llm_providers",
                "athena_configure", "athena_startup", "athena_shutdown",
                "athena_after_remember", "athena_after_execute"}
    assert expected <= set(HOOKS)
    assert set(FAMILIES.values()) == {h for h in HOOKS if h.startswith("athena_register_")}


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_docstring_with_version(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc) > 40, f"{name} is undocumented"
    assert re.search(r"Added in \d+\.\d+", doc), f"{name} does not say which version added it"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_fully_typed(name: str) -> None:
    function = getattr(hookspecs, name)
    hints = typing.get_type_hints(function, localns=_type_namespace())
    params = inspect.signature(function).parameters
    assert set(params) <= set(hints), f"{name} has untyped arguments"
    assert "return" in hints
    assert all(p.default is inspect.Parameter.empty for p in params.values())


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented_in_docs_with_same_signature(name: str) -> None:
    documented = dict(re.findall(r"^### `(athena_\w+)\(([^)]*)\)`", DOCS.read_text(), re.M))
    assert name in documented, f"{name} is missing from docs/hooks.md"
    args = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert documented[name] == args, f"docs/hooks.md shows {name}({documented[name]})"


def test_docs_list_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^### `(athena_\w+)\(", DOCS.read_text(), re.M))
    assert documented == set(HOOKS)


def _type_namespace() -> dict[str, object]:
    from athena_core.config import Config
    from athena_core.memory.values import Fact, Hit, Memory
    from athena_core.runtime import Athena
    from athena_core.transfer import ImportReport

    return {"Config": Config, "Fact": Fact, "Hit": Hit, "Memory": Memory, "Athena": Athena,
            "ImportReport": ImportReport}
