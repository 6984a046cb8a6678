"""``athena serve`` with many clients: tokens decide scopes, sessions run side by side.

Each client of the HTTP server is known by its token (``[mcp.clients.NAME]``,
written by ``athena mcp token add``); the token, never the name a client gives
itself, decides the scope and the policy of its sessions, and a session answers
only the client that opened it. Calls of different sessions run in parallel,
calls of one session in order; idle sessions are ended.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from athena_core.cli import main
from athena_core.config import Config
from athena_core.errors import ConfigError
from tests.sandbox import require_sandbox
from tests.test_mcp import http_server, open_home, outcome, serve, tool_calls, value_of

pytestmark = [pytest.mark.timeout(120)]
needs_sandbox = require_sandbox()
SERVE_TOKEN = "serve-token-for-tests"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def add_client(home: Path, name: str, *options: str, capsys: Any) -> str:
    """``athena mcp token add NAME OPTIONS``; the token it printed once."""
    capsys.readouterr()
    assert main(["mcp", "token", "add", name, "--home", str(home), "--json", *options]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["client"] == name
    return str(printed["token"])


def write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "athena.toml"
    path.write_text((path.read_text(encoding="utf-8") if path.exists() else "") + text,
                    encoding="utf-8")


@contextlib.asynccontextmanager
async def http_client(url: str, token: str, *, name: str = "athena-tests",
                      scheme: str = "Bearer") -> AsyncIterator[ClientSession]:
    """An initialized SDK client session over streamable HTTP."""
    info = types.Implementation(name=name, version="1.0")
    async with (httpx2.AsyncClient(headers={"Authorization": f"{scheme} {token}"},
                                   timeout=90) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write, read_timeout_seconds=90, client_info=info) as session):
        await session.initialize()
        yield session


def post(url: str, authorization: str | None, method: str, params: dict[str, Any] | None = None,
         *, session: str | None = None, notification: bool = False
         ) -> tuple[int, dict[str, str], str]:
    """One raw JSON-RPC POST: its status, headers (lower-case names) and body."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
    if not notification:
        body["id"] = 1
    headers = {"Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    if authorization is not None:
        headers["Authorization"] = authorization
    if session is not None:
        headers["mcp-session-id"] = session
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return (int(response.status), {k.lower(): v for k, v in response.headers.items()},
                    response.read().decode())
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode()


def open_session(url: str, token: str) -> str:
    """Initialize a session over raw HTTP; its id."""
    status, headers, _ = post(url, f"Bearer {token}", "initialize", {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}})
    assert status == 200, status
    session = headers["mcp-session-id"]
    status, _, _ = post(url, f"Bearer {token}", "notifications/initialized", session=session,
                        notification=True)
    assert status == 202, status
    return session


def lists_tools(url: str, token: str, session: str) -> int:
    """The HTTP status of ``tools/list`` in ``session``."""
    return post(url, f"Bearer {token}", "tools/list", session=session)[0]


# --- the token decides the scope and the policy ----------------------------------------------


@needs_sandbox
@pytest.mark.anyio
async def test_a_clients_token_decides_its_scope_and_policy(home, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MCP_TEST_MARKER", "passed by alice's policy")
    write_config(home, '[policies.alice-policy]\nextends = "strict"\nenv = ["MCP_TEST_MARKER"]\n')
    alice = add_client(home, "alice", "--scope", "team:alice", "--policy", "alice-policy",
                       capsys=capsys)
    bob = add_client(home, "bob", "--scope", "team:bob", capsys=capsys)
    assert alice != bob and alice not in (home / "athena.toml").read_text(encoding="utf-8")

    remember = "import athena\nathena.remember({!r})"
    recall = "import athena\n[h.text for h in athena.recall('rota', layers=['semantic'])]"
    marker = "import os\nos.environ.get('MCP_TEST_MARKER')"
    with http_server(home, SERVE_TOKEN) as url:
        # Alice calls herself "bob": the name a client gives itself decides nothing.
        async with (http_client(url, alice, name="bob") as as_alice,
                    http_client(url, bob, name="bob") as as_bob):
            alices = await value_of(as_alice, remember.format("Alice's rota: Mondays"))
            bobs = await value_of(as_bob, remember.format("Bob's rota: Fridays"))
            assert await value_of(as_alice, recall) == ["Alice's rota: Mondays"]
            assert await value_of(as_bob, recall) == ["Bob's rota: Fridays"]
            assert await value_of(as_alice, marker) == "passed by alice's policy"
            assert await value_of(as_bob, marker) is None  # [execution] policy: strict
        async with http_client(url, SERVE_TOKEN) as as_default:  # [mcp] scope: the default
            assert await value_of(as_default, recall) == []

    with open_home(home) as athena:
        assert athena.get(alices, scope="team:alice").text == "Alice's rota: Mondays"
        assert athena.get(bobs, scope="team:bob").text == "Bob's rota: Fridays"


def test_a_session_answers_only_the_client_that_opened_it(home, capsys) -> None:
    alice = add_client(home, "alice", "--scope", "team:alice", capsys=capsys)
    bob = add_client(home, "bob", "--scope", "team:bob", capsys=capsys)
    with http_server(home, SERVE_TOKEN) as url:
        session = open_session(url, alice)
        assert lists_tools(url, bob, session) == 404, "a stolen session id is refused"
        assert lists_tools(url, SERVE_TOKEN, session) == 404
        assert lists_tools(url, alice, session) == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_scheme_is_read_in_any_case_and_an_unknown_token_is_refused(home, capsys,
                                                                         scheme) -> None:
    alice = add_client(home, "alice", "--scope", "team:alice", capsys=capsys)
    init = {"protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}
    with http_server(home, SERVE_TOKEN) as url:
        assert post(url, f"{scheme} {alice}", "initialize", init)[0] == 200
        assert post(url, f"{scheme} {SERVE_TOKEN}", "initialize", init)[0] == 200
        status, headers, body = post(url, f"{scheme} not-{alice}", "initialize", init)
        assert status == 401 and headers["content-type"] == "application/json"
        assert headers["www-authenticate"].startswith("Bearer")
        assert "unknown bearer token" in json.loads(body)["error"]
        status, _, body = post(url, None, "initialize", init)
        assert status == 401 and "Authorization: Bearer" in json.loads(body)["error"]


def test_token_add_stores_only_a_hash_and_lists_clients(home, capsys) -> None:
    token = add_client(home, "ci-bot", "--scope", "ci", "--policy", "research", capsys=capsys)
    text = (home / "athena.toml").read_text(encoding="utf-8")
    assert token not in text and hashlib.sha256(token.encode()).hexdigest() in text
    [client] = Config.load(home, env={}).mcp.clients.values()
    assert (client.name, client.scope, client.policy) == ("ci-bot", "ci", "research")

    assert main(["mcp", "token", "add", "ci-bot", "--home", str(home), "--scope", "x"]) == 1
    assert "already" in capsys.readouterr().err
    assert main(["mcp", "token", "add", "x", "--home", str(home), "--scope", "x",
                 "--policy", "nonesuch"]) == 1
    assert "nonesuch" in capsys.readouterr().err
    assert main(["mcp", "token", "list", "--home", str(home), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"client": "ci-bot", "scope": "ci", "policy": "research"}]
    assert main(["mcp", "token", "remove", "ci-bot", "--home", str(home)]) == 0
    assert not Config.load(home, env={}).mcp.clients
    assert (home / "athena.toml").read_text(encoding="utf-8").strip() == ""


@pytest.mark.parametrize(("text", "words"), [
    pytest.param("[mcp]\nscope_from_client = true\n", "athena mcp token add", id="removed-key"),
    pytest.param("[mcp.clients.a]\nscope = 'x'\n", "token_sha256", id="no-token"),
    pytest.param("[mcp.clients.a]\ntoken_sha256 = 'abc'\nscope = 'x'\n", "64 hexadecimal",
                 id="not-a-sha256"),
    pytest.param(f"[mcp.clients.a]\ntoken_sha256 = '{'0' * 64}'\nscope = 'x'\n"
                 "policy = 'lenient'\n", "strict", id="unknown-policy"),
    pytest.param(f"[mcp.clients.a]\ntoken_sha256 = '{'0' * 64}'\nscope = 'x'\n"
                 f"[mcp.clients.b]\ntoken_sha256 = '{'0' * 64}'\nscope = 'y'\n",
                 "same token", id="shared-token"),
])
def test_bad_client_config_is_an_error_that_says_what_to_do(home, text, words) -> None:
    write_config(home, text)
    with pytest.raises(ConfigError, match=words):
        Config.load(home, env={})


def test_scope_from_client_option_is_refused_with_the_replacement(home, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--home", str(home), "--scope-from-client"])
    assert exited.value.code == 2
    assert "athena mcp token add" in capsys.readouterr().err


# --- sessions in parallel ---------------------------------------------------------------


@needs_sandbox
@pytest.mark.anyio
async def test_a_long_call_in_one_session_does_not_hold_up_another(home) -> None:
    write_config(home, '[execution]\npolicy = "slow"\n'
                       '[policies.slow]\nextends = "strict"\nlimits = { wall_seconds = 60 }\n')
    finished: list[str] = []
    with http_server(home, SERVE_TOKEN) as url:
        async with http_client(url, SERVE_TOKEN) as one, http_client(url, SERVE_TOKEN) as two:
            await value_of(two, "'warm'")  # both sandboxes' start-up is behind us

            async def long_call() -> None:
                assert await value_of(one, "import time\ntime.sleep(8)\n'slept'") == "slept"
                finished.append("long")

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(long_call)
                await anyio.sleep(1)
                assert await value_of(two, "6 * 7") == 42
                finished.append("short")
    assert finished == ["short", "long"], "session 2 was answered while session 1 ran"


@needs_sandbox
@pytest.mark.anyio
async def test_calls_of_one_session_run_in_order(home) -> None:
    write_config(home, "[mcp]\nmax_concurrent_calls = 4\n")
    finished: list[str] = []
    with http_server(home, SERVE_TOKEN) as url:
        async with http_client(url, SERVE_TOKEN) as session:

            async def call(name: str, code: str) -> None:
                await value_of(session, code)
                finished.append(name)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(call, "first", "import time\ntime.sleep(3)")
                await anyio.sleep(0.5)
                tasks.start_soon(call, "second", "1")
    assert finished == ["first", "second"]


# --- idle sessions are ended --------------------------------------------------------------


def test_an_idle_session_is_ended(home) -> None:
    write_config(home, "[mcp]\nsession_idle_seconds = 1\n")
    with http_server(home, SERVE_TOKEN) as url:
        session = open_session(url, SERVE_TOKEN)
        assert lists_tools(url, SERVE_TOKEN, session) == 200
        time.sleep(3)
        assert lists_tools(url, SERVE_TOKEN, session) == 404, "session not found"
        assert lists_tools(url, SERVE_TOKEN, open_session(url, SERVE_TOKEN)) == 200


def test_past_max_sessions_the_least_recently_used_idle_session_is_ended(home) -> None:
    write_config(home, "[mcp]\nmax_sessions = 2\n")
    with http_server(home, SERVE_TOKEN) as url:
        first, second = open_session(url, SERVE_TOKEN), open_session(url, SERVE_TOKEN)
        assert lists_tools(url, SERVE_TOKEN, first) == 200  # `second` is now the older
        third = open_session(url, SERVE_TOKEN)
        assert lists_tools(url, SERVE_TOKEN, second) == 404
        assert lists_tools(url, SERVE_TOKEN, first) == 200
        assert lists_tools(url, SERVE_TOKEN, third) == 200


def test_the_session_table_forgets_idle_and_least_recently_used_sessions() -> None:
    from athena_core.mcp.server import SessionTable

    now = [0.0]
    table: SessionTable[str] = SessionTable(idle_seconds=10, max_sessions=2,
                                            clock=lambda: now[0])
    table.add("a", "A")
    now[0] = 1
    table.add("b", "B")
    now[0] = 2
    assert table.get("a") == "A"  # "b" is now the least recently used
    with table.busy("a"):
        assert table.make_room() == ["b"]  # a busy session is never chosen
    now[0] = 11.5
    table.add("c", "C")
    assert table.expired() == []  # "a" was used at 2: 9.5 s idle
    now[0] = 12.5
    assert table.expired() == ["a"] and table.get("a") is None
    assert table.get("c") == "C" and len(table) == 1


# --- instructions --------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("options", "named", "not_named"), [
    pytest.param((), ["run_code", "search_api"], [], id="code"),
    pytest.param(("--classic",), ["one tool per operation", "recall"],
                 ["run_code", "search_api"], id="classic"),
])
async def test_instructions_describe_the_tools_of_the_mode(home, options, named,
                                                           not_named) -> None:
    async with serve(home, *options) as session:
        instructions = session.instructions or ""
        tools = {tool.name for tool in (await session.list_tools()).tools}
    assert all(word in instructions for word in named), instructions
    assert not any(word in instructions for word in not_named), instructions
    assert {word for word in ("run_code", "search_api") if word in instructions} <= tools


@pytest.mark.anyio
async def test_stdio_serves_one_scope_whatever_the_client_calls_itself(home) -> None:
    async with serve(home, "--classic", "--scope", "team-a", client="Build Bot") as session:
        stored = outcome(await session.call_tool("remember", {"text": "Builds run at night"}))
    with open_home(home) as athena:
        assert athena.get(stored["result"], scope="team-a").text == "Builds run at night"
    [call] = tool_calls(home, scope="team-a")
    assert call.details["client"] == "Build Bot"


def test_a_token_cannot_be_written_where_there_is_no_data_dir(tmp_path, capsys) -> None:
    """An OS error writing athena.toml (here: the data dir's parent is a file, which fails
    for root too) is a typed error with a hint, not a raw OSError."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    status = main(["mcp", "token", "add", "alice", "--scope", "a",
                   "--home", str(blocker / "home")])
    err = capsys.readouterr().err
    assert status == 1 and "Cannot write" in err and "hint:" in err
