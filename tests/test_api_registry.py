"""The API registry: one declaration gives a checked, documented, discoverable operation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from athena_core.api import operation
from athena_core.errors import DuplicateNameError, InvalidArgumentError


def test_every_builtin_operation_is_documented_and_typed(athena) -> None:
    names = athena.api.names()
    assert {"remember", "recall", "forget", "get", "semantic.update", "semantic.history",
            "semantic.facts", "episodic.record", "episodic.timeline",
            "episodic.search"} <= set(names)
    for op in athena.api:
        assert op.summary, f"{op.name} has no docstring"
        assert op.permissions, op.name
        for param in op.signature.parameters.values():
            assert param.annotation is not param.empty, f"{op.name}({param.name}) untyped"


def test_host_api_comes_from_the_registry(athena) -> None:
    assert athena.api.get("semantic.update").call == athena.semantic.update.call
    assert "update" in dir(athena.semantic)
    with pytest.raises(AttributeError, match="available: facts, history, update"):
        athena.semantic.nope  # noqa: B018


def test_arguments_are_checked_against_the_signature(athena) -> None:
    with pytest.raises(InvalidArgumentError, match=r"recall\(\): argument 'k' must be an integer"):
        athena.recall("x", k="5")
    with pytest.raises(InvalidArgumentError, match="unexpected keyword argument 'colour'"):
        athena.remember("x", colour="red")
    with pytest.raises(InvalidArgumentError, match=r"episodic\.record"):
        athena.episodic.record("x", importance="high")


def test_iso_strings_become_datetimes(athena) -> None:
    event = athena.episodic.record("deployed", occurred_at="2026-01-02T03:04:05Z")
    [episode] = athena.episodic.timeline(start="2026-01-01", end=datetime(2026, 1, 3, tzinfo=UTC))
    assert episode.id == event
    assert episode.occurred_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_duplicate_operation_names_are_rejected(athena) -> None:
    @operation()
    def recall(owner, query: str) -> list:
        """Shadow the built-in."""
        return []

    with pytest.raises(DuplicateNameError, match="'recall'"):
        athena.api.add_function("recall", recall, owner=athena, provider="imposter")


def test_undeclared_permissions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown permissions"):
        operation(permissions="root")


def test_docs_api_md_is_current(athena) -> None:
    from pathlib import Path

    from athena_core.api.reference import render_markdown

    docs = Path(__file__).parent.parent / "docs" / "api.md"
    assert docs.read_text() == render_markdown(athena.api), (
        "docs/api.md is stale: python -m athena_core.api.reference > docs/api.md")


def test_signatures_show_keyword_and_positional_catch_alls(athena) -> None:
    """``**kwargs`` stays ``**kwargs`` in the reference, discovery and the API tree (its
    def line parses), rather than reading as a required argument after a default."""
    from athena_core.api.reference import signature_text
    from athena_core.discovery.tree import _def_line

    @operation()
    def gather(owner, first: str, *rest: int, flag: bool = False, **extra: str) -> int:
        """Count what was given."""
        return 0

    athena.api.add_function("testing.gather", gather, owner=athena, provider="test")
    op = athena.api.get("testing.gather")
    assert signature_text(op) == ("testing.gather(first: str, *rest: int, flag: bool = "
                                  "False, **extra: str) -> int")
    assert signature_text(athena.api.get("procedures.run")).startswith(
        "procedures.run(id: str, inputs: Mapping[str, Any] | None = None, **named: Any)")
    assert _def_line(op, "gather") is not None
