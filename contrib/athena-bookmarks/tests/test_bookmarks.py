"""The bookmarks layer, installed as a package: every door of Athena reaches it."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable

import pytest
from athena_core import Athena
from athena_core.errors import (
    InvalidArgumentError,
    MemoryNotFoundError,
    PluginLoadError,
    SchemaVersionError,
    ScopeViolationError,
)
from athena_core.mcp.tools import ToolSession
from athena_core.plugins import PluginHost
from athena_core.transfer import export_jsonl, import_jsonl
from sqlalchemy import inspect, select, text

from athena_bookmarks.layer import Bookmark
from athena_bookmarks.models import BookmarkRow

DOCS = "https://docs.python.org/3/library/sqlite3.html"
#: The ``open_athena`` fixture (conftest.py): opens an instance on a data dir by name.
Opener = Callable[..., Athena]


def test_registered_through_the_entry_point() -> None:
    host = PluginHost()
    host.load_entry_points()
    assert "bookmarks" in host.registry("memory layer").names()


def test_add_get_recent_and_search(athena: Athena) -> None:
    first = athena.bookmarks.add(DOCS, "SQLite driver of the Python standard library")
    second = athena.bookmarks.add("https://www.Example.org/a", "An example page")
    bookmark = athena.bookmarks.get(first)
    assert isinstance(bookmark, Bookmark)
    assert (bookmark.url, bookmark.domain, bookmark.layer) == (DOCS, "docs.python.org",
                                                               "bookmarks")
    assert [b.id for b in athena.bookmarks.recent()] == [second, first]
    assert [b.id for b in athena.bookmarks.recent(domain="WWW.example.org")] == [second]
    assert athena.bookmarks.search("python sqlite driver")[0].url == DOCS


def test_the_same_url_twice_is_one_bookmark_per_scope(athena: Athena) -> None:
    first = athena.bookmarks.add(DOCS, "sqlite3 docs")
    assert athena.bookmarks.add(DOCS, "the sqlite3 module") == first
    assert athena.bookmarks.add(DOCS, "sqlite3 docs", scope="other") != first


def test_recall_and_remember_reach_the_layer(athena: Athena) -> None:
    memory_id = athena.remember(f"{DOCS} sqlite3 module reference", layer="bookmarks")
    assert athena.bookmarks.get(memory_id).url == DOCS
    hits = athena.recall("sqlite3 module reference")
    assert [(hit.id, hit.layer) for hit in hits] == [(memory_id, "bookmarks")]
    with pytest.raises(InvalidArgumentError, match=r"bookmarks\.add"):
        athena.remember("no address here", layer="bookmarks")


@pytest.mark.parametrize("url", ["ftp://example.org/file", "example.org", "https:///path",
                                 "https://example.org/a b", "", "https://x.org/" + "a" * 2048])
def test_urls_are_checked(athena: Athena, url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="url"):
        athena.bookmarks.add(url, "a title")
    assert athena.bookmarks.recent() == []


def test_scope_is_bound_by_the_caller_not_the_plugin(athena: Athena) -> None:
    mine = athena.bookmarks.add(DOCS, "sqlite3 docs", scope="team:a")
    athena.bookmarks.add("https://example.org/", "example", scope="team:b")
    with athena.bound(scope="team:a"):
        assert [b.id for b in athena.bookmarks.recent()] == [mine]
        assert [b.id for b in athena.bookmarks.search("example sqlite3 docs")] == [mine]
        with pytest.raises(ScopeViolationError):
            athena.bookmarks.recent(scope="team:b")
    with athena.bound(scope="team:b"), pytest.raises(MemoryNotFoundError):
        athena.bookmarks.get(mine)


def test_forget_deletes_the_layer_row(athena: Athena) -> None:
    memory_id = athena.bookmarks.add(DOCS, "sqlite3 docs")
    assert athena.forget(memory_id) == 1
    with athena.storage.read() as session:  # type: ignore[union-attr]
        assert session.scalars(select(BookmarkRow)).all() == []
    with pytest.raises(MemoryNotFoundError):
        athena.bookmarks.get(memory_id)


def test_export_and_import_keep_the_url(open_athena: Opener) -> None:
    source = open_athena("source")
    memory_id = source.bookmarks.add(DOCS, "sqlite3 docs", metadata={"tag": "db"})
    exported = io.StringIO()
    export_jsonl(source, exported)
    target = open_athena("target")
    report = import_jsonl(target, io.BytesIO(exported.getvalue().encode()))
    assert report.imported == 1
    copied = target.bookmarks.get(memory_id)
    assert (copied.url, copied.text, copied.metadata) == (DOCS, "sqlite3 docs", {"tag": "db"})
    again = io.StringIO()
    export_jsonl(target, again)
    assert again.getvalue() == exported.getvalue()


def test_migration_creates_the_table_the_model_describes(athena: Athena) -> None:
    engine = athena.storage._read_engine  # type: ignore[union-attr]
    with engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("bookmarks")}
        version = connection.execute(
            text("SELECT version_num FROM athena_schema_bookmarks")).scalar()
    assert columns == set(BookmarkRow.__table__.columns.keys())
    assert version == "b0001"


def test_a_database_from_a_newer_plugin_is_refused(open_athena: Opener) -> None:
    athena = open_athena()
    athena.bookmarks.add(DOCS, "sqlite3 docs")
    with athena.storage.write() as session:  # type: ignore[union-attr]
        session.execute(text("UPDATE athena_schema_bookmarks SET version_num = 'b9999'"))
    athena.close()
    with pytest.raises(PluginLoadError, match="newer version of the plugin") as caught:
        open_athena()  # strict mode: the plugin's failure stops the open
    assert isinstance(caught.value.__cause__, SchemaVersionError)
    # Otherwise Athena opens without the plugin, which is marked failed with the reason.
    lenient = open_athena(plugins={"strict": False})
    [failed] = [info for info in lenient.plugins.failures() if info.name == "bookmarks"]
    assert "newer version of the plugin" in (failed.error or "")
    assert "bookmarks" not in lenient.layers


def test_mcp_classic_tools_call_the_layer(athena: Athena) -> None:
    session = ToolSession(athena, scope="mcp", classic=True)
    added = session.call("bookmarks_add", {"url": DOCS, "title": "sqlite3 docs"})
    assert not added.is_error, added.text
    found = session.call("bookmarks_recent", {})
    assert [b["url"] for b in found.data["result"]] == [DOCS]  # type: ignore[index]
    refused = session.call("bookmarks_recent", {"scope": "other"})
    assert refused.is_error
    assert athena.bookmarks.recent(scope="mcp")[0].id == added.data["result"]  # type: ignore[index]


def _sandbox_ready() -> bool:
    host = PluginHost()
    host.load_entry_points()
    return "bwrap" in host.registry("executor") and shutil.which("bwrap") is not None


@pytest.mark.skipif(os.environ.get("ATHENA_REQUIRE_SANDBOX") != "1" and not _sandbox_ready(),
                    reason="needs bubblewrap and the athena-bwrap plugin")
def test_a_sandboxed_program_uses_the_layer(athena: Athena) -> None:
    program = (
        "import athena\n"
        f"first = athena.bookmarks.add({DOCS!r}, 'sqlite3 docs')\n"
        "print(athena.bookmarks.get(first).domain)\n"
        "print([b.url for b in athena.bookmarks.search('sqlite3')])\n"
        "try:\n"
        "    athena.bookmarks.add('ftp://x.org', 'nope')\n"
        "except athena.errors.InvalidArgumentError:\n"
        "    print('refused')\n")
    result = athena.execute(program, scope="agent")
    assert result.status == "ok", result.stderr
    assert result.stdout.splitlines() == ["docs.python.org", f"[{DOCS!r}]", "refused"]
    assert [b.url for b in athena.bookmarks.recent(scope="agent")] == [DOCS]
