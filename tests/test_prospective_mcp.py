"""Due reminders reach an MCP agent: a short notice after each tool result while some
wait, and the ``athena://prospective/due`` resource that delivers them (once)."""

from __future__ import annotations

import json
from pathlib import Path

import mcp.types as types
import pytest

from athena_core import Athena
from athena_core.config import Config
from tests.test_mcp import serve

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def test_a_due_reminder_is_noticed_then_delivered_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "athena.toml").write_text('[retrieval]\nembedder = "hashing"\n', encoding="utf-8")
    with Athena.open(config=Config.load(home)) as athena:
        task = athena.prospective.add("feed the zebra", kind="reminder",
                                      when={"keyword": "zebra"})["id"]
        athena.remember("a zebra escaped")
    async with serve(home, "--classic") as session:
        first = await session.call_tool("recall", {"query": "escaped"})
        [text] = first.content
        assert isinstance(text, types.TextContent)
        assert "[athena] 1 reminder is due" in text.text
        assert "feed the zebra" not in text.text  # the notice never quotes a reminder
        uris = {str(r.uri) for r in (await session.list_resources()).resources}
        assert "athena://prospective/due" in uris
        [due] = (await session.read_resource("athena://prospective/due")).contents
        assert isinstance(due, types.TextResourceContents)
        delivered = json.loads(due.text)
        assert [entry["task"] for entry in delivered] == [task]
        assert delivered[0]["delivered_to"].startswith("mcp")
        again = await session.call_tool("recall", {"query": "escaped"})
        assert "[athena]" not in again.content[0].text  # type: ignore[union-attr]
        [empty] = (await session.read_resource("athena://prospective/due")).contents
        assert json.loads(empty.text) == []  # type: ignore[union-attr]
