"""Every model-bound output is bounded: whatever a program returns or prints, and however
much a classic-mode operation finds, an MCP response stays under ``[mcp]
max_response_chars`` and says what was cut."""

from __future__ import annotations

import json

import pytest

from athena_core.config import McpConfig
from tests.invariants.world import World

pytestmark = pytest.mark.timeout(900)

LIMIT = McpConfig().max_response_chars
#: Programs whose output is far over the caps but under the policy's ``output_bytes`` (a
#: program printing past that is stopped, which tests/test_execution.py covers).
PROGRAMS = {
    "value": "'z' * 10_000_000",
    "printed": "print('y' * 900_000)",
    "both": "print('y' * 500_000)\n['x' * 100_000] * 60",
    "nested": "{str(i): ['w' * 1000] * 50 for i in range(200)}",
}


def _size(result) -> int:
    text = "".join(getattr(c, "text", "") for c in result.content)
    return len(text) + len(json.dumps(result.structured_content or {}))


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_run_code_responses_are_bounded(world: World, program: str) -> None:
    for door in world.doors("default"):
        if not door.name.startswith("mcp-code"):
            continue
        result = door.client.call_tool("run_code", {"code": PROGRAMS[program]})
        assert _size(result) <= 2 * LIMIT, (door, program, _size(result))
        data = result.structured_content
        assert data["status"] == "ok" and data.get("truncated") is True, (door, data.keys())


def test_classic_responses_are_bounded(world: World) -> None:
    with world.athena.bound(scope="B"):
        for i in range(12):
            world.athena.episodic.record(f"long event {i} " + "v " * 40_000, session="long")
    try:
        for door in world.doors("default"):
            if not door.name.startswith("mcp-classic"):
                continue
            result = door.client.call_tool("episodic_timeline", {"limit": 1000})
            assert _size(result) <= 2 * LIMIT, (door, _size(result))
            assert result.structured_content.get("truncated") is True, door
    finally:  # the other tests of the session share B
        world.athena.forget(session="long", scope="B")
