"""What an MCP client receives is bounded: run_code's value and output, whole responses
in code and classic mode ([mcp] max_response_chars), and errors from inside programs.

These drive :class:`~athena_core.mcp.tools.ToolSession` directly: the sizes are decided
there, whichever transport then carries the result.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from athena_core.mcp.tools import MAX_OUTPUT_CHARS, ToolResult, ToolSession
from tests.sandbox import require_sandbox

sandboxed = require_sandbox()


def _size(result: ToolResult) -> int:
    """Characters sent: the text and the structured content together."""
    return len(result.text) + len(json.dumps(result.data, ensure_ascii=False,
                                             separators=(",", ":")))


def _consistent(result: ToolResult) -> dict:
    """The structured data, checked to say the same as the text."""
    assert result.data is not None
    if not (result.is_error and "status" not in result.data):
        assert json.loads(result.text) in (result.data, result.data.get("result"))
    return result.data


@sandboxed
def test_a_huge_value_comes_back_as_a_preview_with_a_hint(athena) -> None:
    session = ToolSession(athena, scope="s")
    result = session.call("run_code", {"code": '"z" * 10_000_000'})
    data = _consistent(result)
    assert not result.is_error and data["status"] == "ok"
    assert "value" not in data and data["truncated"] is True
    assert data["value_preview"].startswith('"zzz')
    assert len(data["value_preview"]) <= MAX_OUTPUT_CHARS
    assert any(c.startswith("value:") and "10,000,002" in c for c in data["cut"]), data["cut"]
    assert "inside the program" in data["hint"]
    assert _size(result) <= athena.config.mcp.max_response_chars


@sandboxed
def test_a_value_under_the_cap_is_returned_whole(athena) -> None:
    session = ToolSession(athena, scope="s")
    data = _consistent(session.call("run_code", {"code": "list(range(1000))"}))
    assert data["value"] == list(range(1000)) and "truncated" not in data


@sandboxed
def test_run_code_stays_under_max_response_chars(athena_factory) -> None:
    athena = athena_factory(mcp={"max_response_chars": 30_000})
    session = ToolSession(athena, scope="s")
    program = "import sys\nprint('o' * 50_000)\nprint('e' * 50_000, file=sys.stderr)\n" \
              "['v' * 100 for _ in range(1000)]"
    result = session.call("run_code", {"code": program})
    data = _consistent(result)
    assert _size(result) <= 30_000, _size(result)
    assert data["status"] == "ok" and data["truncated"] is True
    assert data["cut"] and data["hint"]


@sandboxed
def test_an_error_inside_a_program_is_short_and_said_once(athena) -> None:
    session = ToolSession(athena, scope="s")
    message = "m" * 120
    result = session.call("run_code", {"code": 'x = 1\nraise ValueError("m" * 120)'})
    data = _consistent(result)
    assert data["error"] == {"type": "ValueError", "message": message, "line": 2}
    assert result.text.count(message) == 1, result.text
    assert len(result.text) < 400, result.text
    missing = _consistent(session.call("run_code", {
        "code": "import athena\nathena.get('no-such-memory')"}))
    assert missing["error"]["type"] == "MemoryNotFoundError"
    assert "athena_module" not in json.dumps(missing)


def test_classic_mode_cuts_a_long_list_and_says_so(athena_factory) -> None:
    athena = athena_factory(mcp={"max_response_chars": 20_000})
    for i in range(300):
        athena.episodic.record(f"event number {i} " + "x" * 100, scope="s")
    session = ToolSession(athena, scope="s", classic=True)
    result = session.call("episodic_timeline", {"limit": 10_000})
    data = _consistent(result)
    assert not result.is_error and _size(result) <= 20_000, _size(result)
    assert data["truncated"] is True and 0 < len(data["result"]) < 300
    assert any("of 300 items" in c for c in data["cut"]), data["cut"]
    assert "limit" in data["hint"]
    whole = _consistent(session.call("episodic_timeline", {"limit": 5}))
    assert "truncated" not in whole


@pytest.mark.parametrize("chars", [1_999, 0])
def test_max_response_chars_has_a_floor(athena_factory, chars: int) -> None:
    from athena_core.errors import ConfigError

    with pytest.raises((ConfigError, ValueError)):
        athena_factory(mcp={"max_response_chars": chars})


def _plugin_session(data_dir, functions: dict) -> tuple:
    import types

    from athena_core import Athena
    from athena_core.hookspecs import hookimpl
    from tests.conftest import make_config

    plugin = types.SimpleNamespace(athena_register_api=hookimpl(
        lambda register: [register(name, fn) for name, fn in functions.items()]))
    athena = Athena.open(config=make_config(data_dir, mcp={"max_response_chars": 2_000}),
                         plugins=[plugin])
    return athena, ToolSession(athena, scope="s", classic=True)


def _call_plugin(session: ToolSession, operation: str, arguments: dict) -> Any:
    """Call a plugin's operation: through its own tool, or through ``call_operation``
    when the tool list had no room for it."""
    from athena_core.mcp.tools import CALL_OPERATION, tool_name

    if tool_name(operation) in session.tools:
        return session.call(tool_name(operation), arguments)
    return session.call(CALL_OPERATION, {"operation": operation, "arguments": arguments})


def test_an_operation_result_with_our_keys_stays_its_own_and_bounded(data_dir) -> None:
    """A classic result is nested under "result": an operation returning "cut" or
    "truncated" of its own neither crashes the bounding nor passes for its notes."""
    from athena_core.api import operation

    @operation()
    def odd(athena) -> dict:
        """A result that looks like bounding notes."""
        return {"cut": 5, "truncated": "no", "rows": ["r" * 300] * 40}

    @operation()
    def odd_notes(athena) -> dict:
        """A result whose "cut" is a list of long strings."""
        return {"cut": ["c" * 3_000] * 5}

    athena, session = _plugin_session(data_dir, {"probe.odd": odd, "probe.notes": odd_notes})
    try:
        for tool in ("probe.odd", "probe.notes"):
            result = _call_plugin(session, tool, {})
            assert not result.is_error, result.text[:300]
            assert _size(result) <= 2_000 and result.data["truncated"] is True, tool
        [record, _] = athena.audit.records(kind="tool_call", limit=2)
        assert record.status == "ok"
    finally:
        athena.close()


def test_an_unexpected_failure_is_an_error_result_and_is_audited(data_dir) -> None:
    from athena_core.api import operation

    @operation()
    def broken(athena) -> str:
        """Fails the way a buggy plugin does."""
        raise RuntimeError("internal detail /srv/secret/path")

    athena, session = _plugin_session(data_dir, {"probe.broken": broken})
    try:
        result = _call_plugin(session, "probe.broken", {})
        assert result.is_error and result.data["error"]["type"] == "InternalError"
        assert "/srv/secret/path" not in result.text
        [record] = athena.audit.records(kind="tool_call", limit=1)
        assert record.status == "error" and record.details["error"] == "InternalError"
    finally:
        athena.close()
