"""Every operation offered over MCP classic mode, fuzzed through a real SDK client.

Each tool gets, argument by argument, every edge value of ``tests/_fuzz.py`` that JSON
can carry (wrong types, huge integers, NUL, lone surrogates, huge strings, deep
nesting...), the other required arguments plain. The server answers each call with a
result or an error result whose type is one of Athena's errors (``AthenaError``
subclasses: the same types the host API raises), never an internal error, and a call
it refuses changes no memory. The tools come from the server's own list, so a new
operation is fuzzed without being listed here.
"""

from __future__ import annotations

import inspect
import json
import math
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession

from athena_core import Athena, errors
from athena_core.mcp.tools import CALL_OPERATION, tool_name
from tests._fuzz import EDGE_VALUES, StoredId, plain_arguments, snapshot
from tests.conftest import make_config
from tests.test_fuzz_operations import SIGNATURES
from tests.test_mcp import outcome, serve, serve_command, server_env

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(600)]

#: The names of Athena's error types: what an error result's ``type`` may be.
ATHENA_ERRORS = {name for name, value in vars(errors).items()
                 if inspect.isclass(value) and issubclass(value, errors.AthenaError)}
#: An id of the right shape that no memory has.
ABSENT_ID = "01M97C6DWDYK63MG1C7DWB3ATA"


def _json_value(value: Any) -> bool:
    """Whether ``value`` is JSON data the SDK client can send: finite numbers, string
    keys, valid UTF-8 (a lone surrogate, which it cannot encode, is sent as a raw frame
    by the test below)."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return False
    return not (isinstance(value, float) and not math.isfinite(value))


EDGES = [value for value in EDGE_VALUES if _json_value(value)]


def _plain(value: Any) -> Any:
    if isinstance(value, StoredId):
        return ABSENT_ID
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def classic(tmp_path_factory) -> AsyncIterator[tuple[ClientSession, Path]]:
    home = tmp_path_factory.mktemp("fuzz-mcp") / "home"
    async with serve(home, "--classic") as session:
        await session.call_tool("remember", {"text": "the staging server runs on port 8443"})
        yield session, home


def _memories(home: Path) -> Any:
    with Athena.open(config=make_config(home)) as athena:
        return snapshot(athena)["memories"]


async def test_every_tool_answers_every_edge_value_with_a_result_or_an_athena_error(
        classic) -> None:
    session, home = classic
    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    # The overflow tool (operations past the surface budget) is not an operation itself;
    # what it reaches is fuzzed through the registry in test_fuzz_operations.
    tools.pop(CALL_OPERATION, None)
    by_tool = {tool_name(name): name for name in SIGNATURES}
    assert set(tools) <= set(by_tool), "every tool is a registered operation"
    failures: list[str] = []
    for name, tool in sorted(tools.items()):
        signature = SIGNATURES[by_tool[name]]
        plain = {name: _plain(value) for name, value in plain_arguments(signature).items()
                 if name in tool.input_schema["properties"]}
        for param in tool.input_schema["properties"]:
            for value in EDGES:
                before = _memories(home) if name == "forget" else None
                result = await session.call_tool(name, {**plain, param: value})
                if not result.is_error:
                    continue
                kind = outcome(result)["error"]["type"]
                if kind not in ATHENA_ERRORS:
                    failures.append(f"{name}({param}={str(value)[:40]!r}): {kind}")
                if before is not None:
                    assert _memories(home) == before, "a refused forget changed memories"
    assert not failures, "\n".join(failures)
    stored = outcome(await session.call_tool("remember", {"text": "fuzzed and still here"}))
    hits = outcome(await session.call_tool("recall", {"query": "fuzzed still here"}))
    assert stored["result"] in [hit["id"] for hit in hits["result"]], "the server still works"


def test_a_lone_surrogate_in_a_raw_frame_leaves_the_server_serving(tmp_path: Path) -> None:
    """JSON may escape a lone surrogate (``"\\ud800"``), which another client can send.
    The MCP SDK's JSON parser refuses such a frame before Athena sees it, so the call gets
    no answer; the server goes on serving, and anything it does answer for such a frame
    is an InvalidArgumentError result."""
    home = tmp_path / "home"
    server = subprocess.Popen(serve_command(home, "--classic"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=server_env(), cwd=tmp_path)
    assert server.stdin is not None and server.stdout is not None
    replies: dict[int, dict[str, Any]] = {}

    def send(frame: dict[str, Any]) -> None:
        server.stdin.write(json.dumps(frame).encode("ascii") + b"\n")  # \ud800 escaped
        server.stdin.flush()

    def answer(number: int) -> dict[str, Any]:
        while number not in replies:
            reply = json.loads(server.stdout.readline())
            replies[reply.get("id", 0)] = reply
        return replies[number]

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}})
        answer(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        hostile = [("remember", {"text": "note \ud800"}),
                   ("recall", {"query": "q", "metadata": {"k": "\ud800"}}),
                   ("episodic_record", {"content": "fine", "actor": "\ud800"})]
        for number, (tool, arguments) in enumerate(hostile, start=2):
            send({"jsonrpc": "2.0", "id": number, "method": "tools/call",
                  "params": {"name": tool, "arguments": arguments}})
        send({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
              "params": {"name": "remember", "arguments": {"text": "still serving"}}})
        assert answer(9)["result"]["isError"] is False
        for number in range(2, 2 + len(hostile)):
            if number in replies:
                result = replies[number]["result"]
                assert result["structuredContent"]["error"]["type"] == "InvalidArgumentError"
    finally:
        server.stdin.close()
        server.wait(60)
