"""The placeholder guarantee on every entry path: MCP code and classic mode over the SDK's
client, the CLI, each executor, export and import, and the canary scan of every file."""

from __future__ import annotations

import io
import json
import os
import random

import pytest

from athena_core.errors import ImportFormatError, PlaceholderError
from athena_core.privacy import placeholders
from athena_core.transfer import export_jsonl, import_jsonl
from tests.conftest import DATABASE_URL, _empty_database
from tests.sandbox import require_sandbox, sandbox_ready
from tests.test_cli import athena as run_athena
from tests.test_mcp import outcome, serve, server_env, value_of
from tests.test_privacy_vault import CANARIES, EMAIL, PHONE, TOKEN, assert_nowhere


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_classic_mode_results_hold_placeholders(tmp_path) -> None:
    async with serve(tmp_path / "home", "--classic") as session:
        stored = outcome(await session.call_tool("remember", {"text": f"Write to {EMAIL}"}))
        memory = outcome(await session.call_tool("get", {"id": stored["result"]}))["result"]
        hits = outcome(await session.call_tool("recall", {"query": EMAIL, "k": 1}))["result"]
    assert EMAIL not in json.dumps(memory) and EMAIL not in json.dumps(hits)
    assert hits[0]["id"] == stored["result"]
    assert placeholders.placeholders_in(memory["text"])


@pytest.mark.anyio
@require_sandbox()
async def test_code_mode_output_and_values_hold_placeholders(tmp_path) -> None:
    async with serve(tmp_path / "home") as session:
        value = await value_of(session, (
            "import athena\n"
            f"athena.remember('Write to {EMAIL}')\n"
            f"print('token {TOKEN}')\n"
            "[athena.recall('write')[0]['text'], '" + TOKEN + "']"))
        data = outcome(await session.call_tool("run_code", {
            "code": f"print('{TOKEN}')\nraise ValueError('{EMAIL}')"}))
    assert EMAIL not in json.dumps(value) and TOKEN not in json.dumps(value)
    assert all(placeholders.placeholders_in(item) for item in value)
    assert EMAIL not in json.dumps(data) and TOKEN not in json.dumps(data)
    assert data["error"]["type"] == "ValueError"


@require_sandbox()
def test_the_cli_shows_placeholders_and_forgets_by_subject(tmp_path) -> None:
    _empty_database()  # on PostgreSQL: a store of its own, with keys of its own
    home = tmp_path / "home"
    env = {**server_env(ATHENA_HOME=str(home), ATHENA_RETRIEVAL_EMBEDDER="hashing")}
    if DATABASE_URL:
        env["ATHENA_STORAGE_URL"] = DATABASE_URL
    assert run_athena(home, "remember", f"Write to {EMAIL}", env=env).returncode == 0
    recalled = run_athena(home, "recall", EMAIL, "--json", env=env)
    assert recalled.returncode == 0 and EMAIL not in recalled.stdout
    assert placeholders.placeholders_in(recalled.stdout)
    ran = run_athena(home, "run", "-", stdin=f"print('{TOKEN}')", env=env)
    assert TOKEN not in ran.stdout
    forgot = run_athena(home, "forget", "--subject", EMAIL, "--json", env=env)
    assert forgot.returncode == 0, forgot.stderr
    assert json.loads(forgot.stdout) == {"deleted": 1}


@pytest.mark.parametrize("executor", ["bwrap", "restrictedpython"])
def test_every_executor_hands_programs_placeholders(athena_factory, executor) -> None:
    from athena_core.plugins import PluginHost

    host = PluginHost()
    host.load_entry_points()
    if executor not in host.registry("executor"):
        pytest.skip(f"the {executor} executor is not installed")
    if executor == "bwrap" and not sandbox_ready() \
            and os.environ.get("ATHENA_REQUIRE_SANDBOX") != "1":
        pytest.skip("needs bubblewrap")
    athena = athena_factory(execution={"executor": executor})
    athena.remember(f"Write to {EMAIL}")
    result = athena.execute("import athena\nathena.recall('write')[0]['text']")
    assert result.ok, result.error
    assert EMAIL not in result.value and placeholders.placeholders_in(result.value)


def test_an_import_of_plaintext_is_concealed_and_the_export_holds_no_value(athena_factory,
                                                                         tmp_path) -> None:
    source = athena_factory(tmp_path / "source", privacy={"conceal": False})
    source.remember(f"Write to {EMAIL}", metadata={"phone": PHONE})
    plain = io.StringIO()
    export_jsonl(source, plain)
    assert EMAIL in plain.getvalue()  # the source conceals nothing
    source.close()
    _empty_database()  # on PostgreSQL both share the test database
    target = athena_factory(tmp_path / "target")
    report = import_jsonl(target, io.BytesIO(plain.getvalue().encode()))
    assert report.imported == 1
    [hit] = target.recall(EMAIL, k=1)
    assert EMAIL not in hit.text and PHONE not in json.dumps(hit.metadata)
    assert target.privacy.reveal(hit.text) == f"Write to {EMAIL}"
    again = io.StringIO()
    export_jsonl(target, again)
    assert EMAIL not in again.getvalue() and PHONE not in again.getvalue()
    [record] = target.audit.records(kind="export")
    assert record.details == {"memories": 1, "values": 2, "redacted": False,
                              "graph_lines": 0, "intentions": 0}
    assert record.scope == "*"


def canary(number: int) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    rng = random.Random(number)
    return "CANARY-" + "".join(rng.choice(letters) for _ in range(16))


def write_canaries(athena, writes: int, canaries: int) -> list[str]:
    """``writes`` writes through the host API, each carrying one of ``canaries`` values in
    its text or metadata, some as facts later updated, some as events."""
    values = [canary(n) for n in range(canaries)]
    facts = []
    for number in range(writes):
        value = values[number % canaries]
        match number % 4:
            case 0:
                facts.append(athena.remember(f"note {number}: the key is {value}"))
            case 1:
                athena.episodic.record(f"event {number}", context={"secret": value})
            case 2:
                athena.remember(f"plain {number}", metadata={"ref": [value, number]})
            case _:
                athena.semantic.update(facts[-1], f"note {number}: now {value}")
    return values


@pytest.mark.parametrize(("writes", "canaries"), [
    pytest.param(1_000, 100, id="1000-writes"),
    pytest.param(10_000, 1_000, id="10000-writes", marks=pytest.mark.slow),
])
def test_no_canary_reaches_any_file(athena_factory, data_dir, tmp_path, writes, canaries):
    athena = athena_factory(**CANARIES)
    values = write_canaries(athena, writes, canaries)
    if sandbox_ready():
        program = athena.execute("import athena\n" + "\n".join(
            f"athena.remember('program {n} {values[n]}')" for n in range(20))
            + f"\nprint('{values[0]}')")
        assert program.ok, program.error
    exported = tmp_path / "export.jsonl"
    with exported.open("w", encoding="utf-8") as out:
        export_jsonl(athena, out)
    athena.checkpoint()
    athena.close()
    assert_nowhere(tmp_path, *values)  # the data dir (with SQLite) and the export
    reopened = athena_factory(**CANARIES)
    [hit] = reopened.recall(values[5], k=1)
    assert values[5] in reopened.privacy.reveal(hit.text)


def test_an_export_carries_the_values_encrypted_and_an_import_restores_them(
        athena_factory, tmp_path) -> None:
    athena = athena_factory(tmp_path / "one")
    stored = athena.get(athena.remember(f"Write to {EMAIL}")).text
    full, redacted = io.StringIO(), io.StringIO()
    export_jsonl(athena, full)
    export_jsonl(athena, redacted, redact=True)
    lines = [json.loads(line) for line in full.getvalue().splitlines()]
    [value] = [line["sensitive_value"] for line in lines if "sensitive_value" in line]
    assert value["token"] in stored and EMAIL not in full.getvalue()
    assert "sensitive_value" not in redacted.getvalue()
    athena.forget(everything=True)
    with pytest.raises(PlaceholderError):
        athena.privacy.reveal(stored)
    report = import_jsonl(athena, io.BytesIO(full.getvalue().encode()))
    assert report.imported == 1
    assert athena.privacy.reveal(stored) == f"Write to {EMAIL}"
    # a changed ciphertext, or another store's keys, refuse the file: nothing is written
    tampered = full.getvalue().replace(value["ciphertext"][:8], "AAAAAAAA")
    with pytest.raises(ImportFormatError, match="cannot be read with this store's keys"):
        import_jsonl(athena, io.BytesIO(tampered.encode()))
    athena.close()
    _empty_database()
    other = athena_factory(tmp_path / "two")
    other.remember(f"mail {TOKEN}")  # keys of its own
    with pytest.raises(ImportFormatError, match="cannot be read with this store's keys"):
        import_jsonl(other, io.BytesIO(full.getvalue().encode()))
    assert all("Write to" not in hit.text for hit in other.recall("Write", k=5))


@pytest.mark.anyio
async def test_classic_mode_resolves_placeholders_only_for_real_values_operations_and_forgets_by_subject(  # noqa: E501
        data_dir) -> None:
    """Over the SDK's own client: a placeholder the model passes to a ``real_values``
    operation reaches it as the value while the result the model reads holds the
    placeholder; ``forget`` with ``subject`` erases every trace."""
    from mcp import Client

    from athena_core import Athena
    from athena_core.mcp.server import build_server
    from tests.conftest import make_config
    from tests.test_privacy_vault import MAIL, SENT

    _empty_database()
    SENT.clear()
    with Athena.open(config=make_config(data_dir), plugins=[MAIL]) as athena:
        async with Client(build_server(athena, classic=True)) as client:
            stored = (await client.call_tool("remember", {"text": f"bill: {EMAIL}"}))
            memory_id = stored.structured_content["result"]
            text = (await client.call_tool("get", {"id": memory_id})).structured_content
            token = placeholders.placeholders_in(text["result"]["text"])[0]
            tools = {tool.name for tool in (await client.list_tools()).tools}
            name = "mail_send" if "mail_send" in tools else "call_operation"
            arguments = {"to": token, "body": f"hi {token}"}
            sent = await client.call_tool(name, arguments if name == "mail_send" else {
                "operation": "mail.send", "arguments": arguments})
            assert not sent.is_error, sent.content
            assert EMAIL not in json.dumps(sent.structured_content)
            assert [(EMAIL, f"hi {EMAIL}")] == SENT
            gone = await client.call_tool("forget", {"subject": EMAIL})
            assert gone.structured_content == {"result": 1}
            hits = await client.call_tool("recall", {"query": EMAIL})
            assert hits.structured_content == {"result": []}
        with pytest.raises(PlaceholderError):
            athena.privacy.reveal(token)
