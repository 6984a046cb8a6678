"""Procedures over MCP: the skills extension, ``search_api`` over procedures, the surface size.

``athena serve`` runs as a subprocess and the SDK's own client talks to it (stdio, and
streamable HTTP with a bearer token). Every active procedure is a skill: ``skills/list``
and ``skills/get`` give its entry, ``resources/read`` of its ``skill://`` files gives
exactly what ``athena procedures export`` writes. Procedures are activated here with
``ProcedureCatalog.set_status`` (what the gate does once it has verified a version), so
these tests need no sandbox.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import mcp.types as types
import pytest
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client
from pydantic import TypeAdapter

from athena_core import Athena
from athena_core.procedures import Procedure, export_skill
from athena_core.procedures.frontmatter import read_front_matter
from tests.test_mcp import (  # noqa: F401 - anyio_backend is a fixture
    anyio_backend,
    http_server,
    open_home,
    outcome,
    serve,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

EXTENSION = "io.modelcontextprotocol/skills"
#: A word that is only in the code of notes/recent: not in its id, description or tags.
CODE_ONLY_WORD = "frobnicate"
CODE = f'''\
def _{CODE_ONLY_WORD}_ledger(topic: str) -> str:
    return topic.strip()


def run(topic: str, days: int = 7) -> list[str]:
    """The notes about a topic from the last few days."""
    return [f"{{_{CODE_ONLY_WORD}_ledger(topic)}}: nothing new in {{days}} days"]
'''
TESTS = '''\
from main import run


def test_run() -> None:
    assert run("deploys", 1) == ["deploys: nothing new in 1 days"]
'''
RECENT = "skill://notes/notes-recent/SKILL.md"
#: What the always-loaded surface (tools/list and the instructions) may cost, at most.
BUDGET = 8_000

_ANY = TypeAdapter(dict[str, Any])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


class _UriParams(types.RequestParams):
    uri: str


# --- procedures in a data dir ----------------------------------------------------------------


def add(athena: Athena, id: str, description: str, *, status: str = "active",
        code: str = CODE) -> str:
    """Save procedure ``id`` and give its version ``status``; its commit."""
    commit = athena.procedures.save(id, description, code, TESTS, tags=["notes"])["commit"]
    if status != "candidate":
        athena.procedures.catalog.set_status(id, commit, status)  # type: ignore[arg-type]
    return str(commit)


def with_three(home: Path) -> None:
    """notes/recent active, notes/draft a candidate, notes/old retired."""
    home.mkdir(parents=True, exist_ok=True)
    with open_home(home) as athena:
        add(athena, "notes/recent", "List recent notes on a topic; use before starting work.")
        add(athena, "notes/draft", "A draft nobody admitted yet.", status="candidate")
        add(athena, "notes/old", "An old way of listing notes.", status="retired")


def bulk(home: Path, count: int) -> None:
    """``count`` active procedures, saved as one commit (in 100 namespaces)."""
    home.mkdir(parents=True, exist_ok=True)
    code = "def run(topic: str) -> str:\n    return topic\n"
    with open_home(home) as athena:
        versions = [(Procedure.from_code(code, id=f"ns{i % 100}/p{i}",
                                         description=f"Procedure number {i} of the bulk set."),
                     code, "") for i in range(count)]
        athena.procedures.repository.save_many(versions, author="tests", message="bulk")
        catalog = athena.procedures.catalog
        catalog.reconcile()
        for entry in catalog.list():
            catalog.set_status(entry.id, entry.latest_commit, "active")


# --- the skills extension's requests -----------------------------------------------------------


async def skills_list(session: ClientSession, cursor: str | None = None) -> dict[str, Any]:
    request = types.Request(method="skills/list",
                            params=types.PaginatedRequestParams(cursor=cursor))
    return await session.send_request(request, _ANY)


async def skills_get(session: ClientSession, uri: str) -> dict[str, Any]:
    return await session.send_request(types.Request(method="skills/get",
                                                    params=_UriParams(uri=uri)), _ANY)


async def every_skill(session: ClientSession) -> tuple[list[dict[str, Any]], int]:
    """Every skill entry, following the cursors; and how many pages that took."""
    skills, cursor, pages = [], None, 0
    while True:
        page = await skills_list(session, cursor)
        pages += 1
        assert page["resultType"] == "complete" and page["cacheScope"] in ("public", "private")
        assert isinstance(page["ttlMs"], int)
        skills += page["skills"]
        cursor = page.get("nextCursor")
        if cursor is None:
            return skills, pages


async def read_text(session: ClientSession, uri: str) -> str:
    [content] = (await session.read_resource(uri)).contents
    assert isinstance(content, types.TextResourceContents) and content.uri == uri
    return content.text


def exported(home: Path, id: str, into: Path) -> dict[str, bytes]:
    """The files ``athena procedures export`` writes for ``id``'s active version."""
    with open_home(home) as athena:
        entry = athena.procedures.catalog.get(id)
        folder = export_skill(athena.procedures.catalog.version(id, entry.active_commit), into)
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


async def search(session: ClientSession, query: str, **options: Any) -> dict[str, Any]:
    """search_api's structured result (its text is a sentence when nothing matches)."""
    result = await session.call_tool("search_api", {"query": query, **options})
    assert not result.is_error and result.structured_content is not None
    return result.structured_content


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- skills/list, skills/get and skill:// resources ---------------------------------------------


async def test_the_server_declares_the_skills_extension(home) -> None:
    async with serve(home) as session:
        capabilities = session.server_capabilities
        assert capabilities is not None and capabilities.resources is not None
        # The handshake revisions carry extensions under experimental.
        assert capabilities.experimental == {EXTENSION: {}}


async def test_skills_list_offers_the_active_procedures_only(home) -> None:
    with_three(home)
    async with serve(home) as session:
        skills, _ = await every_skill(session)
    [skill] = skills
    assert skill["uri"] == RECENT
    front = skill["frontmatter"]
    assert front["name"] == "notes-recent"
    assert front["description"] == "List recent notes on a topic; use before starting work."
    assert front["metadata"]["athena-id"] == "notes/recent"
    assert [r["uri"] for r in skill["resources"]] == [
        RECENT, "skill://notes/notes-recent/scripts/main.py",
        "skill://notes/notes-recent/scripts/test_main.py"]
    assert all(r["digest"].startswith("sha256:") and len(r["digest"]) == 71 and r["size"] > 0
               for r in skill["resources"])


async def test_skills_get_and_resources_read_give_what_export_writes(home, tmp_path) -> None:
    with_three(home)
    files = exported(home, "notes/recent", tmp_path / "exported")
    assert set(files) == {"SKILL.md", "scripts/main.py", "scripts/test_main.py"}
    async with serve(home) as session:
        [listed], _ = await every_skill(session)
        got = await skills_get(session, RECENT)
        read = {resource["uri"]: (await read_text(session, resource["uri"])).encode("utf-8")
                for resource in got["skill"]["resources"]}
    assert got["resultType"] == "complete" and "ttlMs" in got and "cacheScope" in got
    assert got["skill"] == listed
    for resource in got["skill"]["resources"]:
        relative = resource["uri"].removeprefix("skill://notes/notes-recent/")
        assert read[resource["uri"]] == files[relative], relative
        assert resource["digest"] == digest(files[relative])
        assert resource["size"] == len(files[relative])
    front = read_front_matter(files["SKILL.md"].decode("utf-8"), path="SKILL.md").values
    assert got["skill"]["frontmatter"] == front


async def test_an_unknown_skill_is_an_error_naming_it(home) -> None:
    with_three(home)
    async with serve(home) as session:
        for uri in ("skill://notes/notes-nothing/SKILL.md",
                    "skill://notes/notes-draft/SKILL.md",  # a candidate is not offered
                    "skill://notes/notes-old/SKILL.md",  # nor is a retired procedure
                    "skill://notes/notes-recent/scripts/main.py",  # a file, not a skill
                    "skill://notes-recent/SKILL.md"):
            with pytest.raises(MCPError) as raised:
                await skills_get(session, uri)
            assert raised.value.code == -32602
            assert uri in raised.value.message
        with pytest.raises(MCPError) as raised:
            await session.read_resource("skill://notes/notes-recent/scripts/other.py")
        assert "skill://notes/notes-recent/scripts/other.py" in raised.value.message
        assert (await skills_get(session, RECENT))["skill"]["uri"] == RECENT  # still serving


async def test_a_policy_that_may_not_read_procedures_is_offered_no_skills(home) -> None:
    with_three(home)
    (home / "athena.toml").write_text(
        '[execution]\npolicy = "narrow"\n\n[policies.narrow]\nextends = "strict"\n'
        'api = ["recall", "remember"]\n', encoding="utf-8")
    async with serve(home) as session:
        assert (await every_skill(session))[0] == []
        with pytest.raises(MCPError) as raised:
            await skills_get(session, RECENT)
        assert raised.value.code == -32602
        assert "procedures" not in await search(session, CODE_ONLY_WORD)


async def test_skills_and_their_files_are_listed_in_pages(home) -> None:
    bulk(home, 130)
    async with serve(home) as session:
        skills, pages = await every_skill(session)
        assert pages > 1
        assert len({skill["uri"] for skill in skills}) == len(skills) == 130
        uris, cursor, resource_pages = [], None, 0
        while True:
            page = await session.list_resources(
                params=types.PaginatedRequestParams(cursor=cursor))
            resource_pages += 1
            uris += [str(resource.uri) for resource in page.resources]
            cursor = page.next_cursor
            if cursor is None:
                break
        templates = (await session.list_resource_templates()).resource_templates
        with pytest.raises(MCPError) as raised:
            await skills_list(session, "not-a-cursor")
        assert raised.value.code == -32602
    skill_files = [uri for uri in uris if uri.startswith("skill://")]
    assert resource_pages > 1 and len(skill_files) == len(set(skill_files)) == 3 * 130
    assert "athena://apis/README.md" in uris
    assert {r["uri"] for skill in skills for r in skill["resources"]} == set(skill_files)
    assert any(t.uri_template.startswith("skill://") for t in templates)


# --- search_api over procedures -----------------------------------------------------------------


async def test_search_api_finds_a_procedure_by_a_word_only_in_its_code(home) -> None:
    with_three(home)
    async with serve(home) as session:
        found = outcome(await session.call_tool("search_api", {"query": CODE_ONLY_WORD}))
        names = outcome(await session.call_tool(
            "search_api", {"query": CODE_ONLY_WORD, "detail": "names"}))
        full = outcome(await session.call_tool(
            "search_api", {"query": f"{CODE_ONLY_WORD} ledger", "detail": "full"}))
        operations = outcome(await session.call_tool(
            "search_api", {"query": "find memories about a topic", "detail": "names",
                           "limit": 3}))
    [best] = found["procedures"]  # the draft and the old one share the code, but are not active
    assert best["id"] == "notes/recent"
    assert best["run"] == 'athena.procedures.run("notes/recent", topic=...)'
    assert best["input_schema"]["required"] == ["topic"]
    assert best["description"].startswith("List recent notes")
    assert names["procedures"] == ["notes/recent"]
    assert full["procedures"][0]["skill"] == RECENT
    assert full["procedures"][0]["permissions"] == []
    assert operations["operations"][0] == "recall" and len(operations["operations"]) == 3


async def test_procedures_appear_and_disappear_while_the_server_runs(home) -> None:
    with_three(home)
    async with serve(home) as session:
        async def offered() -> tuple[set[str], set[str]]:
            skills, _ = await every_skill(session)
            found = await search(session, "quokka", detail="names")
            return {skill["uri"] for skill in skills}, set(found.get("procedures", []))

        assert await offered() == ({RECENT}, set())
        with open_home(home) as athena:
            commit = add(athena, "zoo/quokka", "Count the quokkas seen on a walk.",
                         status="candidate")
        assert await offered() == ({RECENT}, set()), "a candidate is not offered"
        with open_home(home) as athena:
            athena.procedures.catalog.set_status("zoo/quokka", commit, "active")
        assert await offered() == ({RECENT, "skill://zoo/zoo-quokka/SKILL.md"}, {"zoo/quokka"})
        with open_home(home) as athena:
            athena.procedures.catalog.set_status("zoo/quokka", commit, "retired")
        assert await offered() == ({RECENT}, set())


# --- over HTTP ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def http_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                   timeout=90) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write, read_timeout_seconds=90) as session):
        await session.initialize()
        yield session


async def test_skills_over_http(home, tmp_path) -> None:
    with_three(home)
    files = exported(home, "notes/recent", tmp_path / "exported")
    token = "tok-" + os.urandom(8).hex()
    with http_server(home, token) as url:
        async with http_session(url, token) as session:
            skills, _ = await every_skill(session)
            text = await read_text(session, RECENT)
            with pytest.raises(MCPError) as raised:
                await skills_get(session, "skill://notes/notes-draft/SKILL.md")
    assert [skill["uri"] for skill in skills] == [RECENT]
    assert text.encode("utf-8") == files["SKILL.md"]
    assert "skill://notes/notes-draft/SKILL.md" in raised.value.message


# --- the always-loaded surface ---------------------------------------------------------------


async def surface(home: Path, *options: str) -> tuple[int, int]:
    """Characters of the serialised tools/list result and of the instructions."""
    async with serve(home, *options) as session:
        tools = await session.list_tools()
        instructions = session.instructions or ""
    listed = json.dumps(tools.model_dump(by_alias=True, mode="json", exclude_none=True),
                        ensure_ascii=False, separators=(",", ":"))
    return len(listed), len(instructions)


@pytest.mark.parametrize("count", [
    pytest.param(1_000, id="1000"),
    pytest.param(10_000, id="10000", marks=[pytest.mark.slow, pytest.mark.timeout(1800)]),
])
async def test_the_always_loaded_surface_stays_small_with_many_procedures(
        tmp_path, count: int) -> None:
    empty = await surface(tmp_path / "empty")
    many = tmp_path / "many"
    bulk(many, count)
    with open_home(many) as athena:
        assert len(athena.procedures.catalog.list(status="active")) == count
    tools, instructions = await surface(many)
    assert tools + instructions < BUDGET, (tools, instructions)
    assert (tools, instructions) == empty, "procedures are found through search_api"
    # Classic mode lists operations, never procedures: its size does not grow with them.
    assert await surface(many, "--classic") == await surface(tmp_path / "empty", "--classic")
