"""Import is checked line by line before it writes, and commits all of a file or none of it.

A file whose line 300 is bad must leave the store exactly as it was (memories, their
vectors, the full-text index and the audit log), with an :class:`ImportFormatError`
naming line 300 and the field; an import killed in the middle must leave all of the
file or none of it.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from athena_core import Athena, _ids
from athena_core.errors import AthenaError, ImportFormatError
from athena_core.storage.models import AuditRow, EmbeddingRow, MemoryRow
from athena_core.transfer import ImportReport, import_jsonl

HEADER = {"format": "athena-export", "version": 1}
STAMP = "2026-03-01T09:30:00+00:00"
BAD_LINE = 300


def fact(number: int, **fields: Any) -> dict[str, Any]:
    """A fact record of the export format with id ``01IMP...<number>``-like (valid)."""
    memory_id = f"01KMPRT{number:019d}"
    return {"id": memory_id, "layer": "semantic", "scope": "bulk",
            "text": f"imported fact number {number} about payments", "metadata": {"n": number},
            "importance": 0.5, "created_at": STAMP, "updated_at": STAMP, "valid_from": STAMP,
            "valid_to": None, "fields": {"lineage_id": memory_id, "version": 1,
                                         "superseded_by": None, "supersede_reason": None,
                                         **fields}}


def event(number: int, **fields: Any) -> dict[str, Any]:
    record = fact(number)
    record.update(layer="episodic", text=f"imported event number {number} in the deploy log",
                  fields={"session": "s-1", "kind": "deployment", "outcome": "success",
                          **fields})
    return record


def file_bytes(records: list[dict[str, Any]]) -> bytes:
    lines = [json.dumps(HEADER), *(json.dumps(r) for r in records)]  # \ud800 as an escape
    return ("\n".join(lines) + "\n").encode("ascii")


def records_with_bad_line(bad: dict[str, Any]) -> list[dict[str, Any]]:
    """Records for lines 2.. of a file whose line 300 is ``bad`` (past the first batches)."""
    good = [fact(n) if n % 2 else event(n) for n in range(2, BAD_LINE + 40)]
    good[BAD_LINE - 2] = bad
    return good


def snapshot(athena: Athena) -> dict[str, Any]:
    """Everything an import could touch: rows, vectors, full-text index, audit log, recall."""
    storage = athena.store.storage
    with storage.read() as session:
        state = {
            "memories": session.scalar(select(func.count()).select_from(MemoryRow)),
            "vectors": session.scalar(select(func.count()).select_from(EmbeddingRow)),
            "audit": session.scalar(select(func.count()).select_from(AuditRow)),
            "ids": sorted(session.scalars(select(MemoryRow.id))),
        }
        if storage.dialect == "sqlite":
            state["fts"] = session.scalar(text("SELECT count(*) FROM memories_fts"))
    state["recall"] = [(h.id, round(h.score, 6)) for h in
                       athena.recall("imported payments deploy log", k=20, scope="bulk")]
    state["recall_default"] = [h.id for h in athena.recall("already stored", k=5)]
    return state


@pytest.fixture
def target(athena: Athena) -> Athena:
    athena.remember("already stored before the import")
    athena.remember("imported fact number 7 about payments, stored before", scope="bulk")
    return athena


def _event_field(name: str, value: Any) -> Callable[[], dict[str, Any]]:
    return lambda: event(BAD_LINE, **{name: value})


def _fact_field(name: str, value: Any) -> Callable[[], dict[str, Any]]:
    return lambda: fact(BAD_LINE, **{name: value})


def _top(name: str, value: Any) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        record = fact(BAD_LINE)
        record[name] = value
        if name == "id":  # a first version's lineage is its own id
            record["fields"]["lineage_id"] = value
        return record
    return make


def _without(name: str) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        record = fact(BAD_LINE)
        del record[name]
        return record
    return make


#: A bad line 300: (record, the field the error must name).
BAD_VALUES: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "actor-too-long": (_event_field("actor", "a" * 300), "fields.actor"),
    "actor-empty": (_event_field("actor", "  "), "fields.actor"),
    "kind-not-a-string": (_event_field("kind", 5), "fields.kind"),
    "kind-empty": (_event_field("kind", ""), "fields.kind"),
    "kind-too-long": (_event_field("kind", "k" * 65), "fields.kind"),
    "session-too-long": (_event_field("session", "s" * 256), "fields.session"),
    "outcome-too-long": (_event_field("outcome", "o" * 65), "fields.outcome"),
    "session-lone-surrogate": (_event_field("session", "s-\ud800"), "fields.session"),
    "outcome-nul": (_event_field("outcome", "ok\x00"), "fields.outcome"),
    "event-unknown-field": (_event_field("mood", "happy"), "fields.mood"),
    "fact-unknown-field": (_fact_field("colour", "red"), "fields.colour"),
    "version-zero": (_fact_field("version", 0), "fields.version"),
    "version-string": (_fact_field("version", "2"), "fields.version"),
    "version-huge": (_fact_field("version", 2**70), "fields.version"),
    "lineage-not-an-id": (_fact_field("lineage_id", "lineage-of-payments"), "fields.lineage_id"),
    "superseded-by-missing": (_fact_field("superseded_by", "01KMPRT9999999999999999999"),
                              "fields.superseded_by"),
    "reason-not-a-string": (_fact_field("supersede_reason", ["moved"]),
                            "fields.supersede_reason"),
    "fields-not-an-object": (_top("fields", ["x"]), "fields"),
    "unknown-top-level-field": (_top("colour", "red"), "colour"),
    "missing-top-level-field": (_without("valid_from"), "valid_from"),
    "id-300-characters": (_top("id", "0" * 300), "id"),
    "id-27-characters": (_top("id", "0" * 27), "id"),
    "id-bad-alphabet": (_top("id", "01HXIMPORTEDB0000000000000"), "id"),
    "id-lower-case": (_top("id", "01kmprt0000000000000000300"), "id"),
    "id-not-a-string": (_top("id", 300), "id"),
    "scope-too-long": (_top("scope", "s" * 256), "scope"),
    "scope-lone-surrogate": (_top("scope", "s-\ud800"), "scope"),
    "scope-nul": (_top("scope", "s\x00x"), "scope"),
    "bad-timestamp": (_top("updated_at", "last tuesday"), "updated_at"),
    "importance-out-of-range": (_top("importance", 7), "importance"),
    "text-not-a-string": (_top("text", {"secret": "x"}), "text"),
    "duplicate-id": (lambda: fact(BAD_LINE - 1), "id"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_a_bad_value_on_line_300_names_line_and_field_and_changes_nothing(case, target):
    make, field = BAD_VALUES[case]
    before = snapshot(target)

    with pytest.raises(ImportFormatError) as info:
        import_jsonl(target, io.BytesIO(file_bytes(records_with_bad_line(make()))))

    error = info.value
    assert isinstance(error, AthenaError)
    assert error.line == BAD_LINE
    assert error.field == field
    assert error.message.startswith(f"line {BAD_LINE}: {field} ")
    assert "Nothing was imported" in str(error)
    assert snapshot(target) == before


def test_the_error_does_not_quote_the_value(target):
    secret = "hunter2-" + "x" * 300
    with pytest.raises(ImportFormatError) as info:
        import_jsonl(target, io.BytesIO(file_bytes(
            records_with_bad_line(event(BAD_LINE, actor=secret)))))
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("damage", ["invalid-utf8", "truncated-last-line", "not-json",
                                    "nested-too-deeply"])
def test_a_damaged_line_late_in_the_file_changes_nothing(damage, target):
    records = [fact(n) for n in range(2, 600)]
    lines = file_bytes(records).splitlines(keepends=True)
    if damage == "invalid-utf8":
        where = BAD_LINE
        lines[where - 1] = lines[where - 1].replace(b"imported fact", b"imported \xff\xfe fact")
    elif damage == "truncated-last-line":
        where = len(lines)
        lines[-1] = lines[-1][: len(lines[-1]) // 2]  # no newline: cut off mid-record
    elif damage == "not-json":
        where = BAD_LINE
        lines[where - 1] = b'{"id": "01KMPRT0000000000000000300", "layer": \n'
    else:
        where = BAD_LINE
        lines[where - 1] = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    before = snapshot(target)

    with pytest.raises(ImportFormatError) as info:
        import_jsonl(target, io.BytesIO(b"".join(lines)))
    assert info.value.line == where
    assert snapshot(target) == before


def test_references_must_name_a_memory_of_the_file_or_the_store(target):
    stored = target.remember("a stored fact the file may link to", scope="bulk")
    linked = fact(2, superseded_by=stored)
    linked["valid_to"] = STAMP
    assert import_jsonl(target, io.BytesIO(file_bytes([linked, fact(3, lineage_id=fact(2)["id"])]))
                        ) == ImportReport(imported=2, skipped=0)


def test_a_valid_file_with_every_field_imports(target):
    records = records_with_bad_line(event(BAD_LINE, actor="Carol"))
    report = import_jsonl(target, io.BytesIO(file_bytes(records)))
    assert report == ImportReport(imported=len(records), skipped=0)
    assert target.get(event(BAD_LINE)["id"], scope="bulk").actor == "Carol"


def test_ids_are_declared_once():
    assert len(_ids.new_id()) == _ids.LENGTH == MemoryRow.__table__.c.id.type.length
    assert _ids.is_id(_ids.new_id())
    assert not _ids.is_id(_ids.new_id().lower())
    assert not _ids.is_id("0" * (_ids.LENGTH + 1))


# --- progress ---------------------------------------------------------------------------


def test_progress_reports_each_phase_to_the_end(target, tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_bytes(file_bytes([fact(n) for n in range(2, 700)]))
    seen: dict[str, list[tuple[int, int]]] = {}

    def phase(name: str) -> Callable[[int, int], None]:
        return lambda done, total: seen.setdefault(name, []).append((done, total))

    with path.open("rb") as source:
        import_jsonl(target, source, progress=phase)
    assert list(seen) == ["checking", "embedding", "writing"]
    assert seen["checking"][-1] == (path.stat().st_size, path.stat().st_size)
    assert seen["embedding"][-1] == seen["writing"][-1] == (698, 698)
    for calls in seen.values():
        assert [done for done, _ in calls] == sorted(done for done, _ in calls)


# --- killed in the middle ---------------------------------------------------------------

_CHILD = """
import sys
from pathlib import Path

from athena_core import Athena
from athena_core.config import Config
from athena_core.transfer import import_jsonl

config = Config.from_mapping({"retrieval": {"embedder": "hashing"}, "plugins": {"strict": True}},
                             data_dir=Path(sys.argv[1]), env={})
with Athena.open(config=config) as athena, open(sys.argv[2], "rb") as source:
    import_jsonl(athena, source)
print("finished", flush=True)
"""


def _count(home: Path) -> int:
    import sqlite3

    with sqlite3.connect(home / "athena.db") as conn:
        return int(conn.execute("SELECT count(*) FROM memories").fetchone()[0])


@pytest.mark.skipif(bool(os.environ.get("ATHENA_TEST_DATABASE_URL")), reason="SQLite file")
def test_an_import_killed_midway_leaves_all_or_nothing(athena_factory, tmp_path):
    home = tmp_path / "killed"
    with athena_factory(home) as athena:
        athena.remember("stored before the killed import", scope="bulk")
    total = 5_000
    path = tmp_path / "big.jsonl"
    path.write_bytes(file_bytes([fact(n) for n in range(2, total + 2)]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATHENA_")}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(home), str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    wal = home / "athena.db-wal"
    deadline = time.monotonic() + 300
    # Kill once the import has written a good part of the file to the database.
    while child.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > 1_000_000:
            break
        time.sleep(0.01)
    assert child.poll() is None, ("the import finished before it could be killed",
                                  child.communicate())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    count = _count(home)
    assert count in (1, total + 1), f"a killed import left {count - 1} of {total} memories"
    with athena_factory(home) as athena:
        assert athena.store.storage.integrity_problems() == []
        texts = [h.text for h in athena.recall("imported fact number 4999", k=3, scope="bulk")]
        assert ("imported fact number 4999 about payments" in texts) == (count > 1)
        assert import_jsonl(athena, path.open("rb")).imported == (total if count == 1 else 0)
