"""Export and import of memories as JSON Lines (``athena_core.transfer`` and the CLI)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import ImportFormatError, InvalidArgumentError
from athena_core.transfer import ImportReport, export_jsonl, import_jsonl

T0 = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
HEADER = '{"format":"athena-export","version":3}'
UNICODE_TEXT = "Zoë's café serves crème brûlée ☕ — the 東京 branch opens in May"


def _open_sqlite(data_dir: Path, **sections: dict) -> Athena:
    """An instance on its own SQLite file, whatever database the suite runs against."""
    raw = {"plugins": {"strict": True}, **sections}
    return Athena.open(config=Config.from_mapping(raw, data_dir=data_dir, env={}))


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Athena]:
    """The instance exports are taken from (the ``athena`` fixture is the import target)."""
    instance = _open_sqlite(tmp_path / "source")
    yield instance
    instance.close()


def populate(athena: Athena) -> dict[str, str]:
    """Facts (one superseded), episodes and three scopes; returns their ids by role."""
    ids = {
        "unicode": athena.remember(
            UNICODE_TEXT, importance=0.8,
            metadata={"source": "notes", "tags": ["food", "日本"], "rating": 4.5,
                      "nested": {"ok": True, "none": None}}),
        "plain": athena.remember("The CI pipeline runs on every push"),
        "old": athena.remember("Alice owns the payments service", metadata={"topic": "people"},
                               scope="team:web"),
    }
    ids["new"] = athena.semantic.update(ids["old"], "Carol owns the payments service",
                                        reason="team change", scope="team:web")
    ids["ep1"] = athena.episodic.record(
        "Ran the unit tests: 3 failures in search", occurred_at=T0, session="s-1",
        kind="test_run", outcome="failure", context={"branch": "main", "files": ["search.py"]},
        scope="team:web")
    ids["ep2"] = athena.episodic.record(
        "Fixed the tokenizer bug", occurred_at=T0 + timedelta(minutes=7), session="s-1",
        kind="debugging", outcome="success", context={"branch": "main"}, importance=0.9,
        actor="Carol", scope="team:web")
    ids["ep3"] = athena.episodic.record("Deployed 2.1 to staging",
                                        occurred_at=T0 + timedelta(hours=1), kind="deployment",
                                        scope="ops")
    return ids


def export_text(athena: Athena, **kwargs) -> str:
    out = io.StringIO()
    count = export_jsonl(athena, out, **kwargs)
    text = out.getvalue()
    assert len(text.splitlines()) == count + 1
    return text


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()[1:]]


def import_text(athena: Athena, data: str | bytes) -> ImportReport:
    return import_jsonl(athena, io.BytesIO(data.encode("utf-8") if isinstance(data, str)
                                           else data))


# --- round trip -------------------------------------------------------------------


def test_export_import_export_gives_identical_files(source, athena, tmp_path):
    ids = populate(source)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    with first.open("w", encoding="utf-8") as out:
        assert export_jsonl(source, out) == 7
    with first.open("rb") as data:
        assert import_jsonl(athena, data) == ImportReport(imported=7, skipped=0)
    with second.open("w", encoding="utf-8") as out:
        assert export_jsonl(athena, out) == 7
    assert second.read_bytes() == first.read_bytes()

    text = first.read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    assert UNICODE_TEXT in text  # written as UTF-8, not \u escapes
    by_id = {r["id"]: r for r in records(text)}
    assert set(by_id) == set(ids.values())
    assert {r["scope"] for r in by_id.values()} == {"default", "team:web", "ops"}
    old = by_id[ids["old"]]
    assert old["valid_to"] is not None
    assert old["fields"]["superseded_by"] == ids["new"]
    assert old["fields"]["supersede_reason"] == "team change"
    assert by_id[ids["new"]]["fields"]["version"] == 2
    assert by_id[ids["ep2"]]["fields"]["actor"] == "Carol"
    assert by_id[ids["ep1"]]["fields"] == {"session": "s-1", "kind": "test_run",
                                           "outcome": "failure"}
    assert by_id[ids["ep1"]]["metadata"] == {"branch": "main", "files": ["search.py"]}
    assert by_id[ids["ep1"]]["valid_from"] == T0.isoformat()


def test_imported_memories_are_recallable_with_history(source, athena):
    ids = populate(source)
    import_text(athena, export_text(source))

    hit = athena.recall("crème brûlée café", k=1)[0]
    assert hit.id == ids["unicode"]
    assert hit.text == UNICODE_TEXT
    assert hit.metadata == {"source": "notes", "tags": ["food", "日本"], "rating": 4.5,
                            "nested": {"ok": True, "none": None}}
    assert hit.importance == 0.8
    assert athena.get(ids["plain"]).created_at == source.get(ids["plain"]).created_at

    current = [h.id for h in athena.recall("who owns payments", scope="team:web",
                                           layers=["semantic"])]
    assert current == [ids["new"]]
    before = athena.get(ids["old"], scope="team:web").valid_from
    then = athena.recall("who owns payments", scope="team:web", layers=["semantic"],
                         as_of=before)
    assert [h.id for h in then] == [ids["old"]]

    history = athena.semantic.history(ids["new"], scope="team:web")
    assert [(f.id, f.version) for f in history] == [(ids["old"], 1), (ids["new"], 2)]
    assert history[0].superseded_by == ids["new"]
    assert history[0].supersede_reason == "team change"
    assert history[0].valid_to is not None and history[1].valid_to is None

    events = athena.episodic.timeline(session="s-1", scope="team:web")
    assert [(e.id, e.kind, e.outcome, e.actor) for e in events] == [
        (ids["ep1"], "test_run", "failure", None), (ids["ep2"], "debugging", "success", "Carol")]
    assert events[0].occurred_at == T0
    assert events[0].context == {"branch": "main", "files": ["search.py"]}
    assert [e.id for e in athena.episodic.timeline(scope="ops")] == [ids["ep3"]]
    assert athena.recall("payments", scope="ops") == []

    # an imported event is still recognised as a repeat
    again = athena.episodic.record(
        "Ran the unit tests: 3 failures in search", occurred_at=T0, session="s-1",
        kind="test_run", outcome="failure", context={"branch": "main", "files": ["search.py"]},
        scope="team:web")
    assert again == ids["ep1"]


def test_importing_the_same_file_twice_skips_everything(source, athena):
    populate(source)
    data = export_text(source)
    assert import_text(athena, data) == ImportReport(imported=7, skipped=0)
    after_first = export_text(athena)
    assert import_text(athena, data) == ImportReport(imported=0, skipped=7)
    assert export_text(athena) == after_first


def test_an_event_already_recorded_under_another_id_is_skipped(source, athena):
    ids = populate(source)
    own = athena.episodic.record("Deployed 2.1 to staging", occurred_at=T0 + timedelta(hours=1),
                                 kind="deployment", scope="ops")
    assert own != ids["ep3"]
    assert import_text(athena, export_text(source)) == ImportReport(imported=6, skipped=1)
    assert [e.id for e in athena.episodic.timeline(scope="ops")] == [own]
    assert [h.id for h in athena.recall("deployed to staging", scope="ops")] == [own]
    assert len(records(export_text(athena))) == 7


def test_one_event_twice_in_a_file_under_two_ids_is_imported_once(source, athena):
    """The batch holding both falls back to one record at a time: only the copy skips."""
    ids = populate(source)
    text = export_text(source)
    lines = text.splitlines()
    copy = next(json.loads(line) for line in lines[1:] if json.loads(line)["id"] == ids["ep3"])
    copy["id"] = copy["id"][:-4] + ("AAAA" if not copy["id"].endswith("AAAA") else "BBBB")
    with_copy = "\n".join([*lines, json.dumps(copy)]) + "\n"
    assert import_text(athena, with_copy) == ImportReport(imported=7, skipped=1)
    assert [e.id for e in athena.episodic.timeline(scope="ops")] == [ids["ep3"]]
    assert export_text(athena) == text


def test_export_of_one_scope(source, athena):
    ids = populate(source)
    web = export_text(source, scope="team:web")
    assert {r["id"] for r in records(web)} == {ids["old"], ids["new"], ids["ep1"], ids["ep2"]}
    assert {r["scope"] for r in records(web)} == {"team:web"}
    assert export_text(source, scope="nobody") == HEADER + "\n"

    assert import_text(athena, web) == ImportReport(imported=4, skipped=0)
    assert export_text(athena) == web
    assert athena.recall("CI pipeline push") == []


# --- malformed files import nothing ------------------------------------------------


def _edit(line: int, change: Callable[[dict], object]) -> Callable[[list[bytes]], None]:
    def apply(lines: list[bytes]) -> None:
        record = json.loads(lines[line - 1])
        change(record)
        lines[line - 1] = json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
    return apply


def _set_line(line: int, raw: bytes) -> Callable[[list[bytes]], None]:
    def apply(lines: list[bytes]) -> None:
        lines[line - 1] = raw + b"\n"
    return apply


def _invalid_utf8(lines: list[bytes]) -> None:
    lines[2] = lines[2].replace(b'"text":"', b'"text":"\xff\xfe', 1)
    assert b"\xff" in lines[2]


def _truncate(lines: list[bytes]) -> None:
    lines[2] = lines[2][: len(lines[2]) // 2] + b"\n"


def _duplicate_id(lines: list[bytes]) -> None:
    lines[2] = lines[2].replace(json.loads(lines[2])["id"].encode(),
                                json.loads(lines[1])["id"].encode())


BAD_FILES = {
    "invalid-utf8": (_invalid_utf8, 3, "UTF-8"),
    "malformed-json": (_truncate, 3, "JSON"),
    "not-an-object": (_set_line(3, b'["a", "list"]'), 3, "object"),
    "nan": (_set_line(3, b'{"importance": NaN}'), 3, "NaN"),
    "missing-field": (_edit(3, lambda r: r.pop("scope")), 3, "scope"),
    "wrong-type": (_edit(3, lambda r: r.update(importance="high")), 3, "importance"),
    "wrong-header": (_set_line(1, b'{"format":"other-export","version":1}'), 1, "header"),
    "newer-version": (_set_line(1, b'{"format":"athena-export","version":4}'), 1, "version"),
    "unknown-layer": (_edit(3, lambda r: r.update(layer="dreams")), 3, "dreams"),
    "text-too-large": (_edit(3, lambda r: r.update(text="é" * 101)), 3, "202 bytes"),
    "bad-timestamp": (_edit(3, lambda r: r.update(created_at="yesterday")), 3, "created_at"),
    "duplicate-id": (_duplicate_id, 3, "twice"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_malformed_file_raises_naming_the_line_and_imports_nothing(case, source,
                                                                   athena_factory):
    corrupt, line, words = BAD_FILES[case]
    populate(source)
    lines = export_text(source).encode("utf-8").splitlines(keepends=True)
    corrupt(lines)
    # 200 bytes fits every text of populate() but not 101 two-byte characters
    target = athena_factory(memory={"max_text_bytes": 200})
    target.remember("already here")
    before = export_text(target)

    with pytest.raises(ImportFormatError) as info:
        import_text(target, b"".join(lines))
    assert info.value.line == line
    assert f"line {line}:" in info.value.message
    assert words in info.value.message
    assert "Nothing was imported" in str(info.value)
    assert export_text(target) == before
    assert target.recall("payments pipeline café tokenizer", scope="team:web") == []


def test_empty_file_is_rejected(athena):
    with pytest.raises(ImportFormatError, match="empty"):
        import_text(athena, b"\n\n")
    assert records(export_text(athena)) == []


def test_bad_line_after_the_first_batch_imports_nothing(athena):
    """Validation covers the whole file, not just the first write batch."""
    stamp = T0.isoformat()
    good = [json.dumps({"id": f"01TEST{i:020d}", "layer": "semantic", "scope": "bulk",
                        "text": f"bulk fact number {i}", "metadata": {"i": i},
                        "importance": 0.5, "created_at": stamp, "updated_at": stamp,
                        "valid_from": stamp, "valid_to": None, "fields": {}})
            for i in range(300)]
    bad = [*good[:280], '{"id": "broken"', *good[280:]]  # past the first 256-record batch
    with pytest.raises(ImportFormatError) as info:
        import_text(athena, "\n".join([HEADER, *bad]) + "\n")
    assert info.value.line == 282
    assert records(export_text(athena)) == []

    assert import_text(athena, "\n".join([HEADER, *good]) + "\n") == ImportReport(300, 0)
    assert [h.text for h in athena.recall("bulk fact number 299", k=1, scope="bulk")] == [
        "bulk fact number 299"]


def test_everything_remember_accepts_can_be_exported(source, athena, tmp_path):
    """A memory is either refused when stored or survives an export to a UTF-8 file."""
    try:
        memory_id = source.remember("a note with odd metadata", metadata={"k": "\ud800"})
    except InvalidArgumentError:
        assert records(export_text(source)) == []
        return
    path = tmp_path / "export.jsonl"
    with path.open("w", encoding="utf-8") as out:
        assert export_jsonl(source, out) == 1
    with path.open("rb") as data:
        assert import_jsonl(athena, data) == ImportReport(imported=1, skipped=0)
    assert athena.get(memory_id).metadata == source.get(memory_id).metadata


# --- through the command line --------------------------------------------------------


def _cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATHENA_")}
    env.update(ATHENA_HOME=str(home), PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "athena_core.cli", *args], input=stdin,
                          capture_output=True, text=True, encoding="utf-8", env=env,
                          cwd=home.parent, timeout=120)


def _cli_json(home: Path, *args: str, stdin: str = "") -> dict:
    proc = _cli(home, *args, "--json", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cli_export_import_round_trip(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    with _open_sqlite(src) as athena:
        ids = populate(athena)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"

    assert _cli_json(src, "export", str(first)) == {"exported": 7, "file": str(first)}
    to_stdout = _cli(src, "export")
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout == first.read_text(encoding="utf-8")

    # a malformed file is refused with its line number and leaves dst untouched
    lines = first.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"id": "half a record'
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join(lines))
    refused = _cli(dst, "import", str(broken))
    assert refused.returncode == 1
    assert "line 3" in refused.stderr
    assert "Nothing was imported" in refused.stderr

    assert _cli_json(dst, "import", str(first)) == {"imported": 7, "skipped": 0}
    assert _cli_json(dst, "import", "-", stdin=first.read_text(encoding="utf-8")) == {
        "imported": 0, "skipped": 7}
    assert _cli(dst, "export", str(second)).returncode == 0
    assert second.read_bytes() == first.read_bytes()

    web = _cli(dst, "export", "--scope", "team:web")
    assert web.returncode == 0, web.stderr
    assert {r["id"] for r in records(web.stdout)} == {ids["old"], ids["new"], ids["ep1"],
                                                      ids["ep2"]}

    hits = _cli_json(dst, "recall", "who owns payments", "--scope", "team:web",
                     "--layer", "semantic")
    assert [h["id"] for h in hits] == [ids["new"]]


def test_a_version_1_file_still_imports(source, athena):
    populate(source)
    text = export_text(source).replace(HEADER, '{"format":"athena-export","version":1}', 1)
    assert import_text(athena, text) == ImportReport(imported=7, skipped=0)
