"""Progressive API discovery: the API tree, its cache, search_api and `athena apis`."""

from __future__ import annotations

import ast
import inspect
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from athena_core.api import ApiRegistry, operation
from athena_core.cli import main
from athena_core.discovery import ApiIndex, search, stub_path, tree_for, write_tree
from athena_core.discovery import tree as tree_module
from athena_core.errors import InvalidArgumentError, OperationDeclarationError

_SENTINEL = object()


@operation()
def _fetch(owner: object, url: str, *, retries: int = 3) -> list[str]:
    """Fetch ``url`` from a "remote" \"\"\"marketplace\"\"\" (C:\\path\\ends\\with\\)"

    A second paragraph that ends with a quote: "done"
    """
    return []


@operation(permissions="write")
def _publish(owner: object, name: str, *, tags: list[str] | None = None) -> str:
    """Publish a package to the marketplace."""
    return name


@operation()
def _weird_default(owner: object, value: object = _SENTINEL) -> None:
    """An operation whose default has no Python spelling."""


def _custom_registry() -> ApiRegistry:
    registry = ApiRegistry()
    registry.add_function("market.git.fetch", _fetch, owner=None, provider="test")
    registry.add_function("market.publish", _publish, owner=None, provider="test")
    registry.add_function("odd", _weird_default, owner=None, provider="test")
    return registry


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}


def _function(source: str) -> ast.FunctionDef:
    [node] = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    return node


# --- the tree --------------------------------------------------------------------------


def test_tree_mirrors_the_dotted_names_with_one_parsable_stub_per_operation(athena, tmp_path):
    ops = athena.api.operations()
    root = write_tree(ops, tmp_path / "apis")
    files = _files(root)

    stubs = {path for path in files if path.endswith(".py") and path != "_types.py"}
    assert stubs == {stub_path(op.name) for op in ops}
    assert {"recall.py", "remember.py", "get.py", "episodic/timeline.py",
            "semantic/update.py"} <= stubs
    for op in ops:
        function = _function(files[stub_path(op.name)])
        assert function.name == op.name.rpartition(".")[2]
        doc = ast.get_docstring(function)
        assert doc.startswith(op.doc), op.name
        assert f"Permissions: {', '.join(sorted(op.permissions))}." in doc
        arguments = function.args
        assert [a.arg for a in [*arguments.args, *filter(None, [arguments.vararg]),
                                *arguments.kwonlyargs, *filter(None, [arguments.kwarg])]
                ] == list(op.signature.parameters)

    recall = _function(files["recall.py"])
    assert ast.unparse(recall.returns) == "list[Hit]"
    assert ast.unparse(recall.args.args[0].annotation) == "str"
    assert "as_of: a datetime or ISO-8601 string or None" in ast.get_docstring(recall)
    timeline = files["episodic/timeline.py"]
    assert "athena.episodic.timeline(" in timeline
    assert "order: Literal['asc', 'desc'] = 'asc'" in timeline

    types = ast.parse(files["_types.py"])
    classes = {n.name: n for n in types.body if isinstance(n, ast.ClassDef)}
    assert {"Hit", "Episode", "Fact", "Memory"} <= set(classes)
    hit_fields = [n.target.id for n in classes["Hit"].body if isinstance(n, ast.AnnAssign)]
    assert {"id", "text", "score", "layer", "metadata"} <= set(hit_fields)


def test_readmes_index_every_namespace_and_operation(athena, tmp_path):
    ops = athena.api.operations()
    files = _files(write_tree(ops, tmp_path / "apis"))

    root = files["README.md"]
    assert "NAMESPACE/README.md" in root  # says how to read further
    for namespace in ("episodic", "semantic"):
        shorts = [op.name.rpartition(".")[2] for op in ops if op.namespace == namespace]
        assert f"- `{namespace}/` - {len(shorts)} operations: {', '.join(shorts)}\n" in root
    for op in ops:
        namespace, _, short = op.name.rpartition(".")
        index = files[f"{namespace}/README.md"] if namespace else root
        assert f"- `{short}` - {op.summary}" in index, op.name
    assert len(root.splitlines()) < 40


def test_nested_namespaces_and_awkward_docstrings(tmp_path):
    registry = _custom_registry()
    files = _files(write_tree(registry.operations(), tmp_path / "apis"))

    assert {"market/README.md", "market/git/README.md", "market/git/fetch.py",
            "market/publish.py", "odd.py"} <= set(files)
    assert "- `market/` - 1 operation: publish; namespaces: git/" in files["README.md"]
    assert "- `fetch` - Fetch ``url``" in files["market/git/README.md"]
    assert "- `git/` - 1 operation: fetch" in files["market/README.md"]

    fetch = _function(files["market/git/fetch.py"])
    assert ast.get_docstring(fetch).startswith(inspect.cleandoc(_fetch.__doc__))
    assert ast.unparse(fetch.returns) == "list[str]"
    # A default without a Python spelling still gives a stub that parses and shows it.
    odd = _function(files["odd.py"])
    assert "Signature: odd(value: object = <object object at" in ast.get_docstring(odd)


def test_names_that_cannot_be_paths_are_refused(tmp_path):
    registry = ApiRegistry()
    with pytest.raises(OperationDeclarationError, match="public Python identifier"):
        registry.add_function("../escape", _publish, owner=None, provider="test")
    assert registry.names() == []
    # The tree refuses it too, however the operation was made.
    op = ApiRegistry.function("../escape", _publish, owner=None, provider="test")
    with pytest.raises(InvalidArgumentError, match="public Python identifier"):
        write_tree([op], tmp_path / "apis")
    assert list(tmp_path.iterdir()) == []


def test_output_is_deterministic_and_readable_by_anyone(athena, tmp_path):
    ops = athena.api.operations()
    first = write_tree(ops, tmp_path / "one")
    second = write_tree(list(reversed(ops)), tmp_path / "two")
    assert _files(first) == _files(second)

    for path in [first, *first.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), path


def test_an_existing_tree_is_replaced_and_a_failed_write_keeps_it(athena, tmp_path,
                                                                   monkeypatch):
    ops = athena.api.operations()
    out = tmp_path / "out"
    target = out / "apis"
    write_tree(ops, target)
    assert (target / "semantic" / "update.py").exists()

    top_level = [op for op in ops if "." not in op.name]
    write_tree(top_level, target)
    assert not (target / "semantic").exists()
    assert (target / "recall.py").exists()
    assert [p.name for p in out.iterdir()] == ["apis"]  # nothing left behind

    before = _files(target)
    written = []

    def failing_open(path, *args, **kwargs):
        written.append(path)
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        return open(path, *args, **kwargs)

    monkeypatch.setattr(tree_module, "open", failing_open, raising=False)
    with pytest.raises(OSError, match="No space left"):
        write_tree(ops, target)
    assert _files(target) == before
    assert [p.name for p in out.iterdir()] == ["apis"]


def test_a_directory_that_is_not_a_tree_is_never_replaced(athena, tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="not an Athena API tree"):
        write_tree(athena.api.operations(), target)
    assert _files(target) == {"mine.txt": "keep me"}

    empty = tmp_path / "empty"
    empty.mkdir()
    assert (write_tree(athena.api.operations(), empty) / "recall.py").exists()


# --- the cache -------------------------------------------------------------------------


def test_tree_for_builds_once_per_set_of_operations(athena, tmp_path, monkeypatch):
    ops = athena.api.operations()
    cache = tmp_path / "cache"
    first = tree_for(ops, cache)
    assert first.parent == cache
    assert _files(first) == _files(write_tree(ops, tmp_path / "plain"))

    def no_building(*args, **kwargs):
        raise AssertionError("the tree was built again")

    monkeypatch.setattr(tree_module, "_stage", no_building)
    assert tree_for(list(reversed(ops)), cache) == first
    monkeypatch.undo()

    fewer = tree_for([op for op in ops if op.name != "recall"], cache)
    assert fewer != first
    assert not (fewer / "recall.py").exists()
    assert (first / "recall.py").exists()  # a mounted older tree stays
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.name, fewer.name])


def test_the_loser_of_a_race_uses_the_winners_tree(athena, tmp_path, monkeypatch):
    ops = athena.api.operations()
    cache = tmp_path / "cache"
    real_stage = tree_module._stage
    winner: list[Path] = []

    def stage_while_another_process_wins(*args, **kwargs):
        staging = real_stage(*args, **kwargs)
        monkeypatch.setattr(tree_module, "_stage", real_stage)
        winner.append(tree_for(ops, cache))  # the other process finishes first
        return staging

    monkeypatch.setattr(tree_module, "_stage", stage_while_another_process_wins)
    assert tree_for(ops, cache) == winner[0]
    assert [p.name for p in cache.iterdir()] == [winner[0].name]  # staging removed


def test_concurrent_callers_share_one_tree(athena, tmp_path):
    ops = athena.api.operations()
    cache = tmp_path / "cache"
    barrier = threading.Barrier(6)
    results: list[Path] = []

    def build() -> None:
        barrier.wait()
        results.append(tree_for(ops, cache))

    threads = [threading.Thread(target=build) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert len(set(results)) == 1
    assert [p.name for p in cache.iterdir()] == [results[0].name]
    assert (results[0] / "README.md").is_file()


# --- search ----------------------------------------------------------------------------


def test_search_finds_the_operation_for_a_plain_question(athena):
    ops = athena.api.operations()
    assert search(ops, "find memories about a topic", detail="names")[0] == "recall"
    assert search(ops, "events between two dates", detail="names")[0] == "episodic.timeline"
    assert search(ops, "delete a memory", detail="names")[0] == "forget"
    assert search(ops, "xyzzy plugh frobnicate", detail="names") == []
    assert search(ops, "the of and", detail="names") == []


def test_detail_levels_return_only_what_was_asked(athena):
    ops = athena.api.operations()
    recall = athena.api.get("recall")

    names = search(ops, "find memories about a topic", detail="names", limit=2)
    assert len(names) == 2
    assert all(isinstance(name, str) for name in names)

    [summary] = search(ops, "find memories about a topic", detail="summary", limit=1)
    assert summary == {"name": "recall", "summary": recall.summary,
                       "signature": summary["signature"]}
    assert summary["signature"].startswith("(query: str, *, k: int = 10")
    assert summary["signature"].endswith("-> list[Hit]")

    [full] = search(ops, "events between two dates", detail="full", limit=1)
    assert full["name"] == "episodic.timeline"
    assert full["doc"] == athena.api.get("episodic.timeline").doc
    assert full["permissions"] == ["read"]
    assert full["path"] == "episodic/timeline.py"
    params = {p["name"]: p for p in full["parameters"]}
    assert params["start"] == {"name": "start", "type": "a datetime or ISO-8601 string or None",
                               "required": False, "keyword_only": True, "default": None}
    assert params["order"]["type"] == "one of 'asc', 'desc'"
    assert params["order"]["default"] == "asc"
    json.dumps(full)  # JSON-ready as it is


def test_bad_search_input_is_refused_with_the_valid_choices(athena):
    ops = athena.api.operations()
    for query in ("", "   \n\t"):
        with pytest.raises(InvalidArgumentError, match="non-empty query"):
            search(ops, query)
    with pytest.raises(InvalidArgumentError, match="Valid: names, summary, full"):
        search(ops, "recall", detail="everything")  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match="positive integer"):
        search(ops, "recall", limit=0)


def test_a_caller_embedder_adds_semantic_matches_above_the_floor(athena):
    ops = athena.api.operations()
    calls: list[int] = []

    def embed(texts):
        calls.append(len(texts))
        rows = [[1.0, 0.0] if ("forget" in t or "obliterate" in t) else [0.0, 1.0]
                for t in texts]
        return np.array(rows, dtype=np.float32)

    assert search(ops, "obliterate", detail="names") == []  # no word in common
    index = ApiIndex(ops, embed=embed)
    assert index.search("obliterate", detail="names") == ["forget"]
    assert index.search("obliterate everything", detail="names") == ["forget"]
    assert calls == [len(ops), 1, 1]  # operations embedded once, then one query each


def test_importing_discovery_stays_free():
    code = ("import sys, athena_core.discovery; "
            "print(sorted(m for m in ('numpy', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# --- the command -----------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    for key in list(os.environ):
        if key.startswith("ATHENA_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--home", str(home)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_apis_export_writes_the_sandbox_tree(cli, athena, tmp_path):
    target = tmp_path / "apis"
    code, out, _ = cli("apis", "export", str(target), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["directory"] == str(target)
    assert report["policy"] == "strict"
    assert {"README.md", "recall.py", "episodic/timeline.py"} <= set(report["files"])
    assert "execute.py" not in report["files"]  # programs cannot start programs
    assert sorted(report["files"]) == sorted(_files(target))
    assert report["operations"] == sum(1 for f in report["files"]
                                       if f.endswith(".py") and f != "_types.py")

    code, out, _ = cli("apis", "export", str(target), "--policy", '{"api": ["semantic.*"]}')
    assert code == 0
    semantic = {stub_path(name) for name in athena.api.names() if name.startswith("semantic.")}
    assert f"for {len(semantic)} operations (policy custom) to {target}" in out
    assert {p for p in _files(target) if p.endswith(".py")} == semantic | {"_types.py"}

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep", encoding="utf-8")
    code, out, _ = cli("apis", "export", str(mine), "--json")
    assert code == 1
    assert json.loads(out)["error"]["type"] == "InvalidArgumentError"
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep"


def test_apis_search_from_the_command_line(cli):
    code, out, _ = cli("apis", "search", "find memories about a topic", "--detail", "names",
                       "--limit", "3", "--json")
    assert code == 0
    names = json.loads(out)
    assert names[0] == "recall"
    assert len(names) <= 3

    code, out, _ = cli("apis", "search", "events between two dates", "--json", "--detail",
                       "full", "--limit", "1")
    assert code == 0
    [full] = json.loads(out)
    assert full["name"] == "episodic.timeline"
    assert {"signature", "doc", "permissions", "parameters"} <= set(full)

    code, out, _ = cli("apis", "search", "events between two dates")
    assert code == 0
    assert out.startswith("episodic.timeline(*, start: datetime | None = None")

    code, out, _ = cli("apis", "search", "run a program", "--detail", "names")
    assert code == 0
    assert "execute" not in out.split()

    code, out, _ = cli("apis", "search", "   ", "--json")
    assert code == 1
    assert json.loads(out)["error"]["type"] == "InvalidArgumentError"
