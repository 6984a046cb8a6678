"""The always-loaded MCP surface (instructions and ``tools/list``) stays under the budget
of ARCHITECTURE.md, 8,000 characters, in both modes and with any number of operations.

The server is Athena's own (``build_server``) with a plugin registering many operations,
reached in-process by the MCP SDK's own client; what is measured is the ``tools/list``
result as the client receives it, serialised as JSON, plus the instructions.
"""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from mcp import Client

from athena_core import Athena
from athena_core.api import operation
from athena_core.hookspecs import hookimpl
from athena_core.mcp.server import build_server
from athena_core.mcp.tools import CALL_OPERATION, SURFACE_BUDGET, first_sentence
from tests.conftest import make_config
from tests.test_mcp import anyio_backend  # noqa: F401 - a fixture

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

BUILT_IN_TOOLS = {"remember", "recall", "get", "forget", "episodic_record", "episodic_search",
                  "episodic_timeline", "semantic_update", "semantic_history",
                  "semantic_facts"}


def _plugin(count: int) -> Any:
    """A plugin with ``count`` operations ``probe.opN``, each with a long docstring."""

    def make(number: int) -> Any:
        @operation()
        def probe(athena: Any, text: str, *, times: int = 1, note: str | None = None
                  ) -> dict[str, Any]:
            """Echo ``text`` back, ``times`` times, with the operation's number. A second
            sentence that only the full documentation carries, and a third one.

            A second paragraph, long enough to matter if every tool carried it whole."""
            return {"number": number, "echo": [text] * times, "note": note}

        return probe

    functions = {f"probe.op{number:04d}": make(number) for number in range(count)}
    return types.SimpleNamespace(athena_register_api=hookimpl(
        lambda register: [register(name, fn) for name, fn in functions.items()]))


async def _listed(athena: Athena, *, classic: bool) -> tuple[int, dict[str, Any], Client]:
    """Characters of instructions + tools/list, the tools by name, and the open client."""
    client = Client(build_server(athena, classic=classic))
    await client.__aenter__()
    tools = await client.list_tools()
    listed = json.dumps(tools.model_dump(by_alias=True, mode="json", exclude_none=True),
                        ensure_ascii=False, separators=(",", ":"))
    assert tools.next_cursor is None  # one page: the whole list is what a client loads
    return (len(listed) + len(client.instructions or ""),
            {tool.name: tool for tool in tools.tools}, client)


@pytest.mark.parametrize("count", [0, 3, 300])
async def test_classic_mode_stays_under_the_budget_with_any_number_of_operations(
        tmp_path, count: int) -> None:
    athena = Athena.open(config=make_config(tmp_path / "home"), plugins=[_plugin(count)])
    try:
        size, tools, client = await _listed(athena, classic=True)
        try:
            assert size < SURFACE_BUDGET, size
            assert set(tools) >= BUILT_IN_TOOLS, "the built-in operations keep their tools"
            recall = tools["recall"]
            assert recall.description == first_sentence(athena.api.get("recall").doc)
            assert recall.input_schema["required"] == ["query"]
            if CALL_OPERATION in tools:  # some operations have no tool of their own
                if count:  # (with none, installed plugins' operations overflowed)
                    result = await client.call_tool(CALL_OPERATION, {
                        "operation": f"probe.op{count - 1:04d}",
                        "arguments": {"text": "hi", "times": 2}})
                    assert not result.is_error, result.content
                    assert result.structured_content == {"result": {
                        "number": count - 1, "echo": ["hi", "hi"], "note": None}}
                missing = await client.call_tool(CALL_OPERATION, {"operation": "probe.nope"})
                assert missing.is_error and "probe.nope" in missing.content[0].text
                bound = await client.call_tool(CALL_OPERATION, {
                    "operation": "recall", "arguments": {"query": "x", "scope": "other"}})
                assert bound.is_error and "scope is set by the session" in bound.content[0].text
            else:
                assert {f"probe_op{n:04d}" for n in range(count)} <= set(tools)
        finally:
            await client.__aexit__(None, None, None)
        if count == 300:
            assert CALL_OPERATION in tools
            code_size, code_tools, client = await _listed(athena, classic=False)
            await client.__aexit__(None, None, None)
            assert set(code_tools) == {"run_code", "search_api"} and code_size < SURFACE_BUDGET
    finally:
        athena.close()


def test_a_description_is_the_first_sentence_cut_at_a_word() -> None:
    assert first_sentence("One line.\n\nMore.") == "One line."
    assert first_sentence("Events in [a, b), in\ntime order. Each has a cursor.") == \
        "Events in [a, b), in time order."
    assert first_sentence("Keep e.g. this. And not this.") == "Keep e.g. this."
    long = first_sentence("word " * 60, limit=40)
    assert long.endswith(" ...") and len(long) <= 40 and "wor ..." not in long
