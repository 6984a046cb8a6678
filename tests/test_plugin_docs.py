"""Every member of what a plugin receives or implements is documented, in the code and in
docs/plugins.md; a test fails when a member lacks either, or the guide names one that
no longer exists (as tests/test_hookspecs.py does for the hooks)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from athena_core.calls import CallContext
from athena_core.memory.store import LayerContext, MemoryLayer, MemoryStore, Transaction
from athena_core.memory.values import Memory
from athena_core.privacy import Detector, DetectorContext, Span
from athena_core.privacy.keys import KeyProvider, KeyProviderContext, StagingKeyProvider
from athena_core.retrieval.embedders import Embedder, EmbedderContext
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import (
    PersistentVectorBackend,
    VectorBackend,
    VectorBackendContext,
    VectorEntry,
)

GUIDE = Path(__file__).parent.parent / "docs" / "plugins.md"
#: The contexts and protocols a plugin receives or implements.
DOCUMENTED: tuple[type, ...] = (
    LayerContext, MemoryStore, Transaction, MemoryLayer, Memory, CallContext,
    VectorBackendContext, VectorEntry, VectorBackend, PersistentVectorBackend, RecallFilter,
    EmbedderContext, Embedder, DetectorContext, Detector, Span, KeyProviderContext,
    KeyProvider, StagingKeyProvider)
#: Dunder methods that are part of a protocol.
PROTOCOL_DUNDERS = {"__len__", "__contains__"}
#: What typing adds to every Protocol class.
_PROTOCOL_MACHINERY = {"__init__", "__subclasshook__", "__non_callable_proto_members__",
                       "__protocol_attrs__"}


def public_members(cls: type) -> dict[str, object]:
    """The members ``cls`` itself defines (inherited ones are documented with their class):
    attrs fields, annotated attributes, methods and properties."""
    # Attributes (attrs fields included) are the class's own annotations.
    members: dict[str, object] = dict.fromkeys(inspect.get_annotations(cls))
    for name, value in vars(cls).items():
        if name in _PROTOCOL_MACHINERY:
            continue
        if (name.startswith("_") and name not in PROTOCOL_DUNDERS) or name in members:
            continue
        if callable(value) or isinstance(value, property | classmethod | staticmethod):
            members[name] = value
    return {name: value for name, value in members.items()
            if not name.startswith("_") or name in PROTOCOL_DUNDERS}


def _has_doc(cls: type, name: str, value: object) -> bool:
    if value is None:  # an attribute: a `#:` comment above it
        source = inspect.getsource(cls)
        return re.search(rf"#:[^\n]*\n\s*{re.escape(name)}\s*[:=]", source) is not None
    function = value.__func__ if isinstance(value, classmethod | staticmethod) else value
    return bool(inspect.getdoc(function))


def guide_sections() -> dict[str, set[str]]:
    """The members each ``### `Class` `` section of the guide lists (``- `member`...``)."""
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in GUIDE.read_text().splitlines():
        heading = re.match(r"^#{2,4} `(\w+)`\s*$", line)
        if heading:
            current = sections.setdefault(heading.group(1), set())
        elif line.startswith("#"):
            current = None
        elif current is not None:
            item = re.match(r"^- `(\w+)", line)
            if item:
                current.add(item.group(1))
    return sections


CASES = [(cls, name) for cls in DOCUMENTED for name in public_members(cls)]


def test_every_class_has_members() -> None:
    assert all(public_members(cls) for cls in DOCUMENTED)
    assert {"store_generic", "export_fields", "import_fields", "related_for_forget", "name",
            "api_namespace"} == set(public_members(MemoryLayer))
    assert {"__len__", "__contains__", "search", "dimension"} <= set(
        public_members(VectorBackend))


@pytest.mark.parametrize(("cls", "name"), CASES,
                         ids=[f"{cls.__name__}.{name}" for cls, name in CASES])
def test_member_has_a_docstring(cls: type, name: str) -> None:
    assert _has_doc(cls, name, public_members(cls)[name]), (
        f"{cls.__name__}.{name} has no docstring (methods) or `#:` comment (attributes)")


@pytest.mark.parametrize("cls", DOCUMENTED, ids=[cls.__name__ for cls in DOCUMENTED])
def test_guide_lists_every_member_and_no_other(cls: type) -> None:
    sections = guide_sections()
    assert cls.__name__ in sections, f"docs/plugins.md has no section for `{cls.__name__}`"
    listed, members = sections[cls.__name__], set(public_members(cls))
    assert not members - listed, f"docs/plugins.md lacks {cls.__name__}: {members - listed}"
    assert not listed - members, (
        f"docs/plugins.md lists {cls.__name__} members that do not exist: {listed - members}")
