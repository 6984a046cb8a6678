"""``athena serve``, run for real as a subprocess and driven by MCP clients.

The SDK's own client talks to the server over stdio (and streamable HTTP with a
bearer token); the MCP Inspector CLI, when installed, is a second, independent
client. After a server exits, its data dir is opened directly to check what it
recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import mcp.types as types
import pytest
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from athena_core import Athena
from athena_core.config import Config
from athena_core.mcp.tools import CALL_OPERATION, tool_name
from tests.sandbox import require_sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]
needs_sandbox = require_sandbox()

QUICK_POLICY = """\
[execution]
policy = "quick"

[policies.quick]
extends = "strict"
limits = { wall_seconds = 2 }
"""
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


# --- starting servers ----------------------------------------------------------------


def serve_command(home: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "athena_core.cli", "serve", "--home", str(home), *options]


def server_env(**extra: str) -> dict[str, str]:
    """This environment (PATH, TMPDIR, ... for the sandbox) without the caller's ATHENA_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATHENA_")}
    return {**env, "PYTHONIOENCODING": "utf-8", **extra}


@contextlib.asynccontextmanager
async def serve(home: Path, *options: str, client: str = "athena-tests"
                ) -> AsyncIterator[ClientSession]:
    """An initialized client session with ``athena serve --home HOME OPTIONS`` over stdio.

    The server's stderr goes to ``HOME.stderr`` beside the data dir; the server has
    exited when the block ends.
    """
    home.mkdir(parents=True, exist_ok=True)
    params = StdioServerParameters(command=sys.executable, args=serve_command(home, *options)[1:],
                                   env=server_env(), cwd=home.parent)
    stderr = home.with_suffix(".stderr")
    info = types.Implementation(name=client, version="1.0")
    with stderr.open("a", encoding="utf-8") as errlog:
        async with (stdio_client(params, errlog=errlog) as (read, write),
                    ClientSession(read, write, read_timeout_seconds=90,
                                  client_info=info) as session):
            try:
                init = await session.initialize()
            except MCPError as exc:
                raise AssertionError(f"athena serve did not start ({exc.message}):\n"
                                     f"{stderr.read_text(encoding='utf-8')}") from exc
            assert init.server_info.name == "athena"
            yield session


@pytest.fixture(scope="module")
async def code_server(tmp_path_factory) -> AsyncIterator[ClientSession]:
    """One code-mode server shared by the tests that do not depend on its state."""
    async with serve(tmp_path_factory.mktemp("code") / "home") as session:
        yield session


@pytest.fixture(scope="module")
async def classic_server(tmp_path_factory) -> AsyncIterator[ClientSession]:
    async with serve(tmp_path_factory.mktemp("classic") / "home", "--classic") as session:
        yield session


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# --- reading results -----------------------------------------------------------------


def outcome(result: types.CallToolResult) -> dict[str, Any]:
    """A tool result's structured data, checked to match its text (JSON, or ``Type: message``)."""
    data = result.structured_content
    assert data is not None
    [content] = result.content
    assert isinstance(content, types.TextContent)
    if result.is_error and "status" not in data:
        error = data["error"]
        assert content.text == f"{error['type']}: {error['message']}"
    else:
        text_data = json.loads(content.text)
        assert text_data == data or text_data == data.get("result")
    return data


async def value_of(session: ClientSession, code: str) -> Any:
    """The value of a program that must succeed."""
    data = outcome(await session.call_tool("run_code", {"code": code}))
    assert data["status"] == "ok", data
    return data.get("value")


async def assert_answers(session: ClientSession) -> None:
    """The server still serves requests."""
    found = outcome(await session.call_tool("search_api", {"query": "remember a fact",
                                                           "detail": "names"}))
    assert "remember" in found["operations"]


def open_home(home: Path) -> Athena:
    """The data dir a server used (this process's ATHENA_* variables are not its config)."""
    return Athena.open(config=Config.load(home, env={}))


def tool_calls(home: Path, scope: str | None = None) -> list[Any]:
    """The ``tool_call`` audit records a (stopped) server wrote in ``home``, oldest first."""
    with open_home(home) as athena:
        return athena.audit.records(kind="tool_call", scope=scope, order="asc")


# --- code mode: tools ----------------------------------------------------------------


async def test_code_mode_offers_run_code_and_search_api(code_server) -> None:
    tools = {tool.name: tool for tool in (await code_server.list_tools()).tools}
    assert set(tools) == {"run_code", "search_api"}
    run_code, search_api = tools["run_code"].input_schema, tools["search_api"].input_schema
    assert run_code["required"] == ["code"]
    assert run_code["properties"]["code"]["type"] == "string"
    assert run_code["properties"]["language"]["enum"] == ["python", "javascript", "bash"]
    assert search_api["required"] == ["query"]
    assert set(search_api["properties"]) == {"query", "detail", "limit"}
    assert search_api["properties"]["detail"]["enum"] == ["names", "summary", "full"]
    assert run_code["additionalProperties"] is search_api["additionalProperties"] is False
    assert "`athena` reaches memory, no import needed" in tools["run_code"].description


async def test_search_api_finds_recall_at_each_detail_level(code_server) -> None:
    question = "find memories about a topic"
    names = outcome(await code_server.call_tool(
        "search_api", {"query": question, "detail": "names", "limit": 3}))["operations"]
    assert names[0] == "recall" and len(names) == 3

    summary = outcome(await code_server.call_tool("search_api", {"query": question}))
    best = summary["operations"][0]
    assert best["name"] == "recall"
    assert best["signature"].startswith("(query: str")  # the name is beside it
    assert "scope" not in best["signature"]  # the session sets it
    assert "doc" not in best and best["summary"]

    full = outcome(await code_server.call_tool(
        "search_api", {"query": question, "detail": "full", "limit": 1}))["operations"]
    assert [op["name"] for op in full] == ["recall"]
    assert "layers" in full[0]["doc"] and len(full[0]["doc"]) > len(best["summary"])


async def test_search_api_with_an_empty_query_is_an_error_result(code_server) -> None:
    result = await code_server.call_tool("search_api", {"query": ""})
    assert result.is_error
    assert outcome(result)["error"]["type"] == "InvalidArgumentError"
    assert "non-empty query" in result.content[0].text
    await assert_answers(code_server)


@pytest.mark.parametrize(("tool", "arguments", "error", "words"), [
    pytest.param("run_code", {}, "InvalidArgumentError", "missing required argument 'code'",
                 id="missing-code"),
    pytest.param("run_code", {"code": 42}, "InvalidArgumentError",
                 "'code' must be a string, not int",
                 id="code-not-a-string"),
    pytest.param("run_code", {"code": "1", "timeout": 5}, "InvalidArgumentError",
                 "unknown argument(s) 'timeout'", id="unknown-argument"),
    pytest.param("run_code", {"code": "1", "language": "cobol"}, "InvalidArgumentError",
                 "language must be python, javascript or bash", id="unknown-language"),
    pytest.param("search_api", {"query": "x", "limit": "all"}, "InvalidArgumentError",
                 "'limit' must be an integer", id="limit-not-an-integer"),
    pytest.param("run_python", {"code": "1"}, "UnknownTool",
                 "the tools are run_code, search_api", id="unknown-tool"),
])
async def test_malformed_calls_are_error_results(code_server, tool, arguments, error,
                                                 words) -> None:
    result = await code_server.call_tool(tool, arguments)
    assert result.is_error
    assert outcome(result)["error"]["type"] == error
    assert words in result.content[0].text
    await assert_answers(code_server)


# --- code mode: programs -------------------------------------------------------------


@needs_sandbox
async def test_run_code_remembers_then_recalls_in_a_later_call(code_server) -> None:
    memory_id = await value_of(code_server, "import athena\n"
                               "athena.remember('The staging database rotates its keys on "
                               "Mondays', metadata={'source': 'runbook'})")
    assert isinstance(memory_id, str) and memory_id
    hit = await value_of(code_server, "import athena\n"
                         "hit = athena.recall('when do staging keys rotate?', k=1,\n"
                         "                    layers=['semantic'])[0]\n"
                         "{'id': hit.id, 'text': hit.text, 'metadata': hit.metadata}")
    assert hit == {"id": memory_id, "metadata": {"source": "runbook"},
                   "text": "The staging database rotates its keys on Mondays"}


@needs_sandbox
async def test_a_failing_program_reports_its_error_and_keeps_stdout(code_server) -> None:
    result = await code_server.call_tool("run_code", {
        "code": "print('checked 3 files')\nx = {}\nraise LookupError('no deploy window')"})
    data = outcome(result)
    assert result.is_error
    assert data["status"] == "error" and data["execution_id"]
    assert data["error"] == {"type": "LookupError", "message": "no deploy window", "line": 3}
    assert data["stdout"] == "checked 3 files\n"
    # The traceback shows the program's line; its last line would repeat `error`.
    assert 'File "<program>", line 3' in data["stderr"]
    assert "no deploy window'" in data["stderr"] and "LookupError: no" not in data["stderr"]
    assert await value_of(code_server, "6 * 7") == 42


@needs_sandbox
async def test_a_program_that_runs_too_long_times_out_and_the_server_answers(home) -> None:
    home.mkdir(parents=True)
    (home / "athena.toml").write_text(QUICK_POLICY, encoding="utf-8")
    async with serve(home) as session:
        result = await session.call_tool("run_code", {
            "code": "import time\nprint('started', flush=True)\ntime.sleep(60)"})
        data = outcome(result)
        assert result.is_error and data["status"] == "timeout"
        assert data["error"] == {"type": "Timeout", "line": None,  # [policies.quick]
                                 "message": "the program ran longer than 2 s"}
        assert data["stdout"] == "started\n"
        assert await value_of(session, "'still here'") == "still here"
        await assert_answers(session)


# --- classic mode ----------------------------------------------------------------------


async def test_classic_mode_offers_one_tool_per_operation_without_scope(classic_server,
                                                                        athena) -> None:
    tools = {tool.name: tool for tool in (await classic_server.list_tools()).tools}
    # Every operation the server's policy (strict) allows: it grants neither `execute`
    # nor `reveal`. They no longer all fit the surface budget: call_operation reaches those
    # left out, the knowledge graph's (many) first.
    allowed = {tool_name(op.name) for op in athena.api
               if not op.permissions & {"execute", "reveal"}}
    listed = set(tools) - {CALL_OPERATION}
    assert CALL_OPERATION in tools and listed <= allowed
    graph = {name for name in allowed if name.startswith("graph_")}
    assert not listed & graph or allowed - graph <= listed
    assert {"episodic_record", "semantic_update", "recall", "remember", "procedures_run",
            "privacy_scan"} <= set(tools)
    assert set(tools["procedures_run"].input_schema["properties"]) == {"id", "inputs"}
    for tool in tools.values():
        assert "scope" not in tool.input_schema["properties"], tool.name
        assert "scope" not in tool.input_schema.get("required", []), tool.name
    assert tools["recall"].input_schema["required"] == ["query"]
    assert tools["recall"].input_schema["properties"]["k"]["type"] == "integer"


#: What rotating, retiring or revealing keys would be called, were they operations.
KEY_OPERATIONS = ("rotate_master_key", "privacy.rotate_master_key", "rotate_keys",
                  "privacy.rotate_keys", "retire_key", "privacy.retire_key", "keys.rotate")


async def test_key_operations_are_offered_in_neither_mode(classic_server, code_server) -> None:
    """The host's key operations are no tools, no call_operation target and nothing
    search_api finds: an agent reaches them by no MCP path."""
    tools = {tool.name for tool in (await classic_server.list_tools()).tools}
    assert not {name for name in tools if "key" in name or "rotate" in name or "retire" in name}
    for name in KEY_OPERATIONS:
        refused = await classic_server.call_tool(CALL_OPERATION, {"operation": name})
        assert refused.is_error and name in refused.content[0].text
    for session in (classic_server, code_server):
        listed = {tool.name for tool in (await session.list_tools()).tools}
        if "search_api" not in listed:
            continue
        found = outcome(await session.call_tool("search_api", {
            "query": "rotate the master key, retire an old key version", "detail": "names",
            "limit": 50}))["operations"]
        assert not {name for name in found if "rotate" in name or "retire" in name}, found


async def test_classic_mode_remembers_and_recalls_as_json(classic_server) -> None:
    stored = outcome(await classic_server.call_tool("remember", {
        "text": "Release notes are due every second Thursday", "metadata": {"team": "docs"}}))
    hits = outcome(await classic_server.call_tool(
        "recall", {"query": "when are release notes due?", "k": 1,
                   "layers": ["semantic"]}))["result"]
    assert [(hit["id"], hit["text"], hit["metadata"]) for hit in hits] == [
        (stored["result"], "Release notes are due every second Thursday", {"team": "docs"})]
    assert hits[0]["layer"] == "semantic" and isinstance(hits[0]["score"], float)


async def test_classic_mode_scans_for_sensitive_values_by_offset(classic_server) -> None:
    text = "Mail ada@acme-corp.com, card 4539 1488 0343 6467"
    result = outcome(await classic_server.call_tool("privacy_scan", {"text": text}))["result"]
    assert [(s["type"], s["start"], s["end"]) for s in result] == [
        ("email", 5, 22), ("payment_card", 29, 48)]
    assert "ada@" not in json.dumps(result)


@pytest.mark.parametrize(("arguments", "words"), [
    pytest.param({"query": "release", "k": "two"}, "'k' must be an integer", id="wrong-type"),
    pytest.param({"query": "release", "top": 2}, "unexpected keyword argument 'top'",
                 id="unknown-argument"),
    pytest.param({"query": "release", "scope": "elsewhere"}, "scope is set by the session",
                 id="scope"),
])
async def test_classic_mode_bad_arguments_are_error_results(classic_server, arguments,
                                                            words) -> None:
    result = await classic_server.call_tool("recall", arguments)
    assert result.is_error
    assert outcome(result)["error"]["type"] == "InvalidArgumentError"
    assert words in result.content[0].text
    assert not (await classic_server.call_tool("recall", {"query": "release"})).is_error


async def test_classic_mode_a_cut_listing_goes_on_from_its_last_cursor(home) -> None:
    """Past [mcp] max_response_chars a classic result's text is an object, not the
    operation's list: the first items under "result", then what was cut; a client gets
    the rest from the cursor of the last item shown."""
    home.mkdir(parents=True)
    (home / "athena.toml").write_text("[mcp]\nmax_response_chars = 20000\n", encoding="utf-8")
    with open_home(home) as athena:
        recorded = [athena.episodic.record(f"event {i} " + "x" * 100, kind="probe",
                                           scope=athena.config.memory.default_scope)
                    for i in range(300)]
    async with serve(home, "--classic") as session:
        arguments: dict[str, Any] = {"kind": "probe", "limit": 1000}
        pages: list[dict[str, Any]] = []
        while True:
            result = await session.call_tool("episodic_timeline", arguments)
            outcome(result)
            page = json.loads(result.content[0].text)
            if isinstance(page, list):
                pages.append({"result": page})
                break
            assert page["truncated"] is True and page["cut"] and page["hint"], page
            assert 0 < len(page["result"]) < 300, page["cut"]
            pages.append(page)
            arguments = {**arguments, "cursor": page["result"][-1]["cursor"]}
    assert len(pages) > 1
    assert [e["id"] for page in pages for e in page["result"]] == recorded


RUNNER_POLICY = """\
[execution]
policy = "runner"

[policies.runner]
extends = "strict"
permissions = ["read", "write", "delete", "execute"]
"""


@needs_sandbox
async def test_classic_mode_offers_execute_only_under_a_policy_that_grants_it(home) -> None:
    home.mkdir(parents=True)
    (home / "athena.toml").write_text(RUNNER_POLICY, encoding="utf-8")
    async with serve(home, "--classic") as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert "policy" not in tools["execute"].input_schema["properties"]
        result = await session.call_tool("execute", {
            "code": "import os\nos.listdir('/')", "policy": "development"})
        assert result.is_error
        assert "policy" in outcome(result)["error"]["message"]
        # The program runs under the session's policy, which never lets it execute.
        ran = outcome(await session.call_tool("execute", {
            "code": "import athena\n[hasattr(athena, 'execute'), athena.remember('x')]"}))
        assert ran["status"] == "ok" and ran["value"][0] is False, ran


# --- resources -------------------------------------------------------------------------


async def test_the_api_tree_is_offered_as_resources(code_server) -> None:
    resources = {r.uri: r for r in (await code_server.list_resources()).resources}
    assert {"athena://apis/README.md", "athena://apis/recall.py", "athena://apis/episodic/README.md",
            "athena://apis/episodic/record.py"} <= set(resources)
    assert resources["athena://apis/README.md"].mime_type == "text/markdown"
    assert resources["athena://apis/recall.py"].mime_type == "text/x-python"
    assert not any("execute" in uri for uri in resources), "programs cannot start programs"

    [readme] = (await code_server.read_resource("athena://apis/README.md")).contents
    assert isinstance(readme, types.TextResourceContents)
    assert readme.text.startswith("# Athena API") and "recall" in readme.text
    [stub] = (await code_server.read_resource("athena://apis/recall.py")).contents
    assert "def recall(" in stub.text and stub.mime_type == "text/x-python"


@pytest.mark.parametrize("uri", ["athena://apis/nothing.py", "file:///etc/passwd"])
async def test_an_unknown_resource_is_a_protocol_error(code_server, uri) -> None:
    with pytest.raises(MCPError, match="No resource") as raised:
        await code_server.read_resource(uri)
    assert raised.value.code == -32002
    await assert_answers(code_server)


# --- what the server records -----------------------------------------------------------


@needs_sandbox
async def test_every_tool_call_is_recorded_in_the_audit_log(home) -> None:
    program = "import athena\nsecret_marker = 'do-not-log-me'\n2 + 2"
    async with serve(home, client="recorder") as session:
        assert await value_of(session, program) == 4
        await session.call_tool("search_api", {"query": "forget a memory", "detail": "names"})
        await session.call_tool("run_code", {"source": "1"})

    calls = tool_calls(home)
    assert [(r.details["tool"], r.status) for r in calls] == [
        ("run_code", "ok"), ("search_api", "ok"), ("run_code", "error")]
    assert all(r.details["client"] == "recorder" and r.details["mode"] == "code"
               and r.duration_ms >= 0 for r in calls)
    ran, searched, malformed = calls
    assert ran.details["session"] == searched.details["session"] == malformed.details["session"]

    assert ran.payload is None and "do-not-log-me" not in json.dumps(ran.to_dict())
    with open_home(home) as athena:
        execution = athena.audit.get(ran.details["execution_id"])
        assert not athena.episodic.timeline()  # none of it is memory
    assert "do-not-log-me" in execution.payload, "the program is kept once, in its execution record"
    assert execution.kind == "execution" and execution.scope == ran.scope
    assert json.loads(searched.payload) == {"query": "forget a memory", "detail": "names"}
    assert searched.details["arguments"] == {"query": 17, "detail": 7}
    assert malformed.details["error"] == "InvalidArgumentError"


# --- sessions and scopes ---------------------------------------------------------------


@needs_sandbox
async def test_scope_option_puts_memories_in_that_scope(home) -> None:
    async with serve(home, "--scope", "team-a") as session:
        memory_id = await value_of(session, "import athena\nathena.remember('Team A owns billing')")
        assert await value_of(session, "import athena\n"
                              "[h.text for h in athena.recall('billing owner', k=1, "
                              "layers=['semantic'])]"
                              ) == ["Team A owns billing"]

    with open_home(home) as athena:
        assert athena.get(memory_id, scope="team-a").text == "Team A owns billing"
        assert not athena.recall("billing owner", layers=["semantic"])  # default scope
    assert [r.details["tool"] for r in tool_calls(home, scope="team-a")] == ["run_code"] * 2


# --- streamable HTTP -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def http_server(home: Path, token: str | None, *options: str,
                launcher: Sequence[str] = ()) -> Iterator[str]:
    """``athena serve --http ... OPTIONS`` on a free port, with the server's own ``token``
    (``None``: only the clients of ``[mcp.clients]``); yields its URL and always stops it.

    ``launcher``: a command that sets the process up and then execs the server
    command appended to it."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = server_env() if token is None else server_env(ATHENA_SERVE_TOKEN=token)
    with open(home.with_suffix(f".{port}.stderr"), "w+", encoding="utf-8") as errlog:
        proc = subprocess.Popen([*launcher,
                                 *serve_command(home, "--http", f"127.0.0.1:{port}", *options)],
                                env=env, cwd=home.parent,
                                stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog)
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError), socket.create_connection(
                        ("127.0.0.1", port), timeout=1):
                    break
                errlog.seek(0)
                assert proc.poll() is None, f"the server exited: {errlog.read()}"
                assert time.monotonic() < deadline, "the server did not open its port in 60 s"
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def http_status(url: str, token: str | None) -> int:
    """The status of a plain ``initialize`` POST, with ``Authorization: Bearer token``."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "urllib", "version": "0"}}}
    headers = {"Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_http_needs_the_bearer_token(home) -> None:
    token = "tok-" + os.urandom(8).hex()
    with http_server(home, token) as url:
        assert http_status(url, None) == 401
        assert http_status(url, "wrong") == 401
        assert http_status(url, token) == 200

        async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
                    streamable_http_client(url, http_client=http) as (read, write),
                    ClientSession(read, write, read_timeout_seconds=90) as session):
            await session.initialize()
            assert {t.name for t in (await session.list_tools()).tools} == {"run_code",
                                                                           "search_api"}
            await assert_answers(session)


# --- a second client: the MCP Inspector CLI ---------------------------------------------


def inspector() -> str:
    found = os.environ.get("ATHENA_TEST_MCP_INSPECTOR") or shutil.which("mcp-inspector")
    if not found:
        why = (f"the MCP Inspector CLI is not installed: `npm install {INSPECTOR}` and set "
               "ATHENA_TEST_MCP_INSPECTOR=.../node_modules/.bin/mcp-inspector (or put "
               "mcp-inspector on PATH)")
        # CI installs it (the README's test command) and sets ATHENA_REQUIRE_INSPECTOR=1.
        if os.environ.get("ATHENA_REQUIRE_INSPECTOR") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return found


def inspect(home: Path, *method: str) -> dict[str, Any]:
    """``mcp-inspector --cli`` against ``athena serve`` over stdio; its parsed result."""
    home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [inspector(), "--cli", "--format", "json", "-q", *serve_command(home), *method],
        capture_output=True, text=True, encoding="utf-8", timeout=90, cwd=home.parent,
        env=server_env(HOME=str(home.parent)))  # anything the inspector stores stays here
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["result"]  # type: ignore[no-any-return]


def test_inspector_lists_the_tools(home) -> None:
    tools = inspect(home, "--method", "tools/list")["tools"]
    assert {tool["name"] for tool in tools} == {"run_code", "search_api"}
    assert all(tool["inputSchema"]["type"] == "object" for tool in tools)


@needs_sandbox
def test_inspector_runs_code(home) -> None:
    code = "import athena\nathena.remember('inspected')\nsum(range(10))"
    result = inspect(home, "--method", "tools/call", "--tool-name", "run_code",
                     "--tool-args-json", json.dumps({"code": code}))
    assert result["isError"] is False
    assert result["structuredContent"]["value"] == 45
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    with open_home(home) as athena:
        assert [hit.text for hit in athena.recall("inspected", layers=["semantic"])] == [
            "inspected"]
    [call] = tool_calls(home)
    assert call.details["client"] == "inspector-cli"
