"""The audit log: not memory, append-only, hash-chained, scrubbed on forget.

Runs on SQLite files (and on PostgreSQL when ``ATHENA_TEST_DATABASE_URL`` is set, as
the ``postgres`` tox env does); tests that scan files or build an SQLite file of an
older schema are SQLite only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from athena_core import Athena, hookimpl
from athena_core.audit import AuditLog
from athena_core.retrieval.vectors import ExactVectorIndex
from tests.conftest import DATABASE_URL, make_config
from tests.sandbox import require_sandbox
from tests.test_hard_forget import canary, files_containing

needs_sandbox = require_sandbox()
sqlite_only = pytest.mark.skipif(bool(DATABASE_URL), reason="builds or scans SQLite files")
REPO = Path(__file__).resolve().parent.parent


def append_some(log: AuditLog, count: int, scope: str = "default") -> list[str]:
    return [log.append("tool_call", scope=scope, caller="host", status="ok",
                       details={"tool": "search_api", "n": i}).id for i in range(count)]


def sql(athena: Athena, statement: str, **params) -> None:
    """Edit the database behind Athena's back, as someone with the file would."""
    with athena.storage.write() as session:
        session.execute(text(statement), params)


# --- not memory -------------------------------------------------------------------------


@needs_sandbox
def test_executions_are_not_memories(athena) -> None:
    result = athena.execute("import athena\nword = 'quixotic-marmalade'\nlen(word)")
    assert result.ok, result
    assert athena.recall("quixotic marmalade program", k=30) == []
    assert athena.episodic.timeline() == []
    assert athena.episodic.search("quixotic marmalade") == []
    [record] = athena.audit.records()
    assert (record.id, record.kind, record.status, record.caller) == (
        result.id, "execution", "ok", "host")
    assert "quixotic-marmalade" in record.payload
    assert record.executor == result.executor and record.language == "python"
    assert record.policy == "strict" and record.duration_ms > 0


@needs_sandbox
def test_programs_cannot_forge_or_forget_audit_records(athena) -> None:
    first = athena.execute("1 + 1")
    forged = athena.execute(
        "import athena\n"
        "athena.episodic.record('Ran a python program: ok', kind='tool_execution',\n"
        "                       context={'execution_id': 'FORGED', 'status': 'ok'})\n"
        "events = athena.episodic.timeline()\n"
        "gone = athena.forget([e['id'] for e in events])\n"
        "[len(events), gone, [n for n in dir(athena) if 'audit' in n]]")
    assert forged.ok, forged
    # The forged event is a memory of the program's own, and forgetting it is all it can do.
    assert forged.value == [1, 1, []]
    executions = athena.audit.records(kind="execution", order="asc")
    assert [r.id for r in executions] == [first.id, forged.id]
    assert executions[1].calls == ("episodic.record", "episodic.timeline", "forget")
    [forget] = athena.audit.records(kind="forget")
    assert forget.caller == f"program:{forged.id}" and forget.details["rows"] == 1
    assert athena.audit.verify().ok


def test_audit_is_no_operation_of_the_registry(athena) -> None:
    assert not [name for name in athena.api.names() if "audit" in name]


def test_hits_and_get_of_episodes_carry_their_fields(athena) -> None:
    event = athena.episodic.record("Alice booked the flight to Lisbon", kind="action",
                                   actor="Alice", session="trip", outcome="success")
    fact = athena.remember("Lisbon is the capital of Portugal")
    hits = {hit.id: hit for hit in athena.recall("Lisbon flight capital", k=5)}
    assert (hits[event].kind, hits[event].actor, hits[event].session, hits[event].outcome) == (
        "action", "Alice", "trip", "success")
    assert (hits[fact].kind, hits[fact].actor, hits[fact].session, hits[fact].outcome) == (
        None, None, None, None)
    assert {"kind": "action", "actor": "Alice", "session": "trip"}.items() <= \
        hits[event].to_dict().items()
    assert hits[fact].to_dict()["kind"] is None
    assert athena.episodic.search("Lisbon")[0].actor == "Alice"
    got = athena.get(event)
    assert (got.kind, got.actor, got.session, got.outcome) == ("action", "Alice", "trip",
                                                                "success")
    assert "kind" not in athena.get(fact).to_dict()


# --- the chain --------------------------------------------------------------------------


def test_records_page_after_a_seq_oldest_first(athena) -> None:
    appended = [athena.audit.append("paging", scope="paging", status="ok") for _ in range(5)]
    after = athena.audit.records(kind="paging", order="asc", after=appended[1].seq)
    assert [record.id for record in after] == [record.id for record in appended[2:]]
    assert athena.audit.records(kind="paging", order="asc", after=appended[-1].seq) == []


def test_an_intact_chain_verifies(athena) -> None:
    assert athena.audit.verify().ok and athena.audit.verify().records == 0
    append_some(athena.audit, 5)
    check = athena.audit.verify()
    assert check.ok and check.records == 5
    assert check.head == athena.audit.records(limit=1)[0].hash


def test_an_edited_record_is_detected(athena) -> None:
    ids = append_some(athena.audit, 5)
    sql(athena, "UPDATE audit_log SET status = 'error' WHERE seq = 3")
    check = athena.audit.verify()
    assert not check.ok
    assert (check.broken_seq, check.broken_id) == (3, ids[2])
    assert "edited" in check.reason


def test_an_edited_payload_is_detected(athena) -> None:
    athena.audit.append("tool_call", scope="default", payload='{"query": "a"}')
    sql(athena, "UPDATE audit_log SET payload = '{\"query\": \"b\"}'")
    check = athena.audit.verify()
    assert not check.ok and check.broken_seq == 1 and "sha256" in check.reason


def test_an_edit_that_rehashes_the_record_is_detected_at_the_next(athena) -> None:
    from athena_core.audit.chain import record_hash

    ids = append_some(athena.audit, 3)
    record = athena.audit.get(ids[1])
    forged = record_hash({**record.to_dict(), "at": record.at, "status": "error"},
                         record.prev_hash)
    sql(athena, "UPDATE audit_log SET status = 'error', hash = :h WHERE seq = 2", h=forged)
    check = athena.audit.verify()
    assert not check.ok and check.broken_id == ids[2] and "does not follow" in check.reason


def test_a_removed_record_is_detected(athena) -> None:
    ids = append_some(athena.audit, 5)
    sql(athena, "DELETE FROM audit_log WHERE seq = 2")
    check = athena.audit.verify()
    assert not check.ok
    assert (check.broken_seq, check.broken_id, check.records) == (3, ids[2], 1)
    assert "record 2 before it is missing" in check.reason


def test_removed_records_at_the_end_are_detected(athena) -> None:
    ids = append_some(athena.audit, 4)
    sql(athena, "DELETE FROM audit_log WHERE seq >= 3")
    check = athena.audit.verify()
    assert not check.ok and check.broken_id == ids[1] and "end were removed" in check.reason


def test_reordered_records_are_detected(athena) -> None:
    ids = append_some(athena.audit, 4)
    sql(athena, "UPDATE audit_log SET seq = -1 WHERE seq = 2")
    sql(athena, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    sql(athena, "UPDATE audit_log SET seq = 3 WHERE seq = -1")
    check = athena.audit.verify()
    assert not check.ok and check.broken_seq == 2 and check.broken_id == ids[2]


def test_appends_after_a_removed_tail_still_show_the_gap(athena) -> None:
    append_some(athena.audit, 3)
    sql(athena, "DELETE FROM audit_log WHERE seq = 3")
    append_some(athena.audit, 1)
    check = athena.audit.verify()
    assert not check.ok and check.broken_seq == 4 and "missing" in check.reason


def test_concurrent_appends_from_threads_keep_one_chain(athena_factory) -> None:
    first, second = athena_factory(), athena_factory()  # two engines, like two processes
    errors: list[BaseException] = []

    def work(log: AuditLog, scope: str) -> None:
        try:
            append_some(log, 40, scope=scope)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(instance.audit, f"t{i}"))
               for i, instance in enumerate((first, first, second, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    check = first.audit.verify()
    assert check.ok and check.records == 160
    assert [r.seq for r in first.audit.records(order="asc", limit=1000)] == list(range(1, 161))


_APPENDER = """
import sys
from tests._workers import open_athena
with open_athena(sys.argv[1]) as athena:
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(int(sys.argv[2])):
        athena.audit.append("tool_call", scope=sys.argv[3], caller="host", status="ok")
    print("done", flush=True)
"""


def test_concurrent_appends_from_processes_keep_one_chain(athena_factory, data_dir) -> None:
    athena = athena_factory()  # creates the database
    workers = [subprocess.Popen([sys.executable, "-c", _APPENDER, str(data_dir), "60", f"p{i}"],
                                cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for i in range(2)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:  # start both at once
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        assert worker.stdout.readline().strip() == "done"
        assert worker.wait(timeout=60) == 0
    check = athena.audit.verify()
    assert check.ok and check.records == 120
    scopes = [r.scope for r in athena.audit.records(order="asc", limit=1000)]
    assert sorted(set(scopes)) == ["p0", "p1"] and scopes.count("p0") == 60


def test_a_forked_chain_is_refused_by_the_database(athena) -> None:
    append_some(athena.audit, 2)
    from athena_core.errors import StorageError

    # two records cannot follow the same one (SQLite's and PostgreSQL's unique violation)
    with pytest.raises(StorageError, match=r"SQLITE_CONSTRAINT_UNIQUE|23505"):
        sql(athena, "INSERT INTO audit_log (seq, id, at, kind, caller, scope, calls, "
                    "call_count, details, scrubbed, migrated, prev_hash, hash) "
                    "SELECT 99, 'FORK', at, kind, caller, scope, calls, call_count, details, "
                    "scrubbed, migrated, prev_hash, hash FROM audit_log WHERE seq = 2")


# --- what is kept -----------------------------------------------------------------------


@needs_sandbox
def test_keep_programs_off_keeps_only_the_hash(athena_factory) -> None:
    athena = athena_factory(audit={"keep_programs": False})
    result = athena.execute("2 * 21")
    [record] = athena.audit.records()
    assert record.payload is None and record.payload_sha256 is not None
    from athena_core.audit.chain import payload_digest

    assert record.payload_sha256 == payload_digest("2 * 21") and result.value == 42
    assert athena.audit.verify().ok


def test_tool_calls_keep_argument_names_and_sizes(athena_factory) -> None:
    from athena_core.mcp.tools import ToolSession

    athena = athena_factory(audit={"keep_programs": True})
    session = ToolSession(athena, scope="team", classic=True, client="tester",
                          authenticated=True)
    secret = canary()
    assert not session.call("remember", {"text": f"the code is {secret}"}).is_error
    assert session.call("forget", {"ids": ["nope"]}).is_error
    first, second = athena.audit.records(kind="tool_call", order="asc")
    assert (first.caller, first.scope, first.status) == ("mcp:tester", "team", "ok")
    # A name a client gave itself is recorded as such, never as the caller.
    ToolSession(athena, scope="team", client="mallory").call("search_api", {"query": "x"})
    [declared] = athena.audit.records(kind="tool_call", limit=1)
    assert declared.caller == "mcp" and declared.details["client"] == "mallory"
    assert declared.details["client_declared"] is True
    assert first.details["tool"] == "remember" and first.details["mode"] == "classic"
    assert first.details["arguments"] == {"text": len(json.dumps(f"the code is {secret}"))}
    assert secret in first.payload
    assert second.status == "error" and second.details["error"] == "MemoryNotFoundError"
    assert athena.recall(secret, scope="team")[0].text == f"the code is {secret}"
    assert all(hit.kind is None for hit in athena.recall("remember tool call", scope="team"))


def test_tool_call_values_are_not_kept_without_keep_programs(athena_factory) -> None:
    from athena_core.mcp.tools import ToolSession

    athena = athena_factory(audit={"keep_programs": False})
    session = ToolSession(athena, scope="team", classic=True, client="tester")
    secret = canary()
    session.call("remember", {"text": secret})
    [record] = athena.audit.records(kind="tool_call")
    assert record.payload is None and record.payload_sha256
    assert secret not in json.dumps(record.to_dict())


# --- forget -----------------------------------------------------------------------------


def test_forget_is_recorded_without_what_was_forgotten(athena) -> None:
    secret = canary()
    note = athena.remember(f"password {secret}", metadata={"k": secret})
    fact = athena.remember("door code 1")
    athena.semantic.update(fact, "door code 2")
    athena.forget([note, fact])
    [record] = athena.audit.records(kind="forget")
    assert record.details == {"rows": 3, "selector": "ids", "layers": ["semantic"],
                              "scrubbed": 0}
    assert record.caller == "host" and record.scope == "default"
    dumped = json.dumps(record.to_dict())
    assert secret not in dumped and note not in dumped and fact not in dumped


def test_scrub_removes_quoting_payloads_and_keeps_the_chain(athena) -> None:
    secret = canary()
    quoting = athena.audit.append("execution", scope="default",
                                  payload=f"athena.remember('key {secret}')")
    other_scope = athena.audit.append("execution", scope="elsewhere",
                                      payload=f"print('{secret}')")
    unrelated = athena.audit.append("execution", scope="default", payload="1 + 1")
    assert athena.audit.scrub("default", [f"key {secret}", ""]) == 1
    scrubbed = athena.audit.get(quoting.id)
    assert scrubbed.payload is None and scrubbed.scrubbed
    assert scrubbed.payload_sha256 == quoting.payload_sha256 and scrubbed.hash == quoting.hash
    assert athena.audit.get(other_scope.id).payload is not None  # another scope's record
    assert athena.audit.get(unrelated.id).payload == "1 + 1"
    assert athena.audit.verify().ok


@needs_sandbox
def test_forget_scrubs_the_program_that_stored_the_text(athena) -> None:
    secret = canary()
    stored = athena.execute(f"import athena\nathena.remember('the vault code is {secret}')")
    assert stored.ok, stored
    [hit] = athena.recall("vault code", layers=["semantic"])
    assert athena.forget(hit.id) == 1
    record = athena.audit.get(stored.id)
    assert record.payload is None and record.scrubbed and record.payload_sha256
    assert secret not in json.dumps([r.to_dict() for r in athena.audit.records()])
    assert athena.audit.verify().ok


@sqlite_only
def test_forgotten_text_leaves_no_bytes_in_the_audit_tables(athena, data_dir) -> None:
    from athena_core.mcp.tools import ToolSession

    c = {name: canary() for name in ("program", "argument", "metadata")}
    big = "x" * 20_000  # overflow pages too
    athena.audit.append("execution", scope="default",
                        payload=f"athena.remember('{c['program']} {big}')")
    session = ToolSession(athena, scope="default", classic=True, client="tester")
    stored = session.call("remember", {"text": f"note {c['argument']}",
                                       "metadata": {"m": c["metadata"]}})
    athena.remember(f"{c['program']} {big}")
    athena.checkpoint()
    for name, token in c.items():  # control: the scan finds the live text
        assert files_containing(data_dir, token), name
    ids = [hit.id for hit in athena.recall(c["program"], k=5)] + [stored.data["result"]]
    athena.forget(ids)
    athena.checkpoint()
    athena.close()
    assert {name: files_containing(data_dir, token) for name, token in c.items()} == {
        name: [] for name in c}


# --- migration of the episodes older versions wrote --------------------------------------


_SAVED: dict[str, tuple[str, list]] = {}


class _SavedIndex(ExactVectorIndex):
    """An exact index that keeps its entries between instances, like an index file."""

    shared = False

    def __init__(self, dimension: int, where: str) -> None:
        super().__init__(dimension)
        self._where = where
        self._entries: dict[int, object] = {}

    def add(self, entries) -> None:
        super().add(entries)
        self._entries.update((entry.key, entry) for entry in entries)

    def remove(self, keys) -> None:
        keys = list(keys)
        super().remove(keys)
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        super().clear()
        self._entries.clear()

    def load_checkpoint(self) -> str | None:
        saved = _SAVED.get(self._where)
        if saved is None:
            return None
        self.clear()
        self.add(saved[1])
        return saved[0]

    def save_checkpoint(self, checkpoint: str) -> None:
        _SAVED[self._where] = (checkpoint, list(self._entries.values()))


class _SavedIndexPlugin:
    @hookimpl
    def athena_register_vector_backends(self, register) -> None:
        register("saved", lambda context: _SavedIndex(context.dimension,
                                                      str(context.data_dir)))


def _open_with_saved_index(data_dir: Path) -> Athena:
    config = make_config(data_dir, retrieval={"vector_backend": "saved",
                                              "embedder": "hashing"})
    return Athena.open(config=config, plugins=[_SavedIndexPlugin()])


@sqlite_only
def test_old_audit_episodes_move_to_the_audit_log(tmp_path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from athena_core.storage import migrations

    data_dir = tmp_path / "home"
    # A database as the previous version wrote it: audit records were episodes.
    with _open_with_saved_index(data_dir) as athena:
        execution = athena.episodic.record(
            "Ran a python program: ok\nimport athena\nathena.recall('zephyr')",
            kind="tool_execution", outcome="success", importance=0.1, scope="agent",
            context={"execution_id": "01EXECUTION0000000000000000"[:26], "executor": "bwrap",
                     "policy": "strict", "status": "ok", "duration_s": 0.1234,
                     "bridge_calls": 1})
        call = athena.episodic.record(
            "MCP tool call run_code: ok", kind="tool_call", session="mcp-session",
            outcome="success", importance=0.1, scope="agent",
            context={"tool": "run_code", "mode": "code", "status": "ok", "duration_ms": 150.5,
                     "client": "claude", "execution_id": "01EXECUTION0000000000000000"[:26]})
        classic = athena.episodic.record(
            "MCP tool call remember: ok", kind="tool_call", session="mcp-session",
            outcome="success", importance=0.1, scope="agent",
            context={"tool": "remember", "mode": "classic", "status": "ok",
                     "duration_ms": 3.0, "arguments": {"text": "zephyr winds"}})
        own = athena.episodic.record("ran the zephyr test suite by hand",
                                     kind="tool_execution", scope="agent")
        note = athena.remember("zephyr is a west wind", scope="agent")
        moved = [execution, call, classic]
        with athena.storage.read() as session:
            keys = [session.execute(text("SELECT pk FROM memories WHERE id = :id"),
                                    {"id": memory_id}).scalar() for memory_id in moved]
        assert len(athena.recall("zephyr program tool call", k=20, scope="agent")) == 5
        saved_at = str(athena.config.data_dir)
    engine = create_engine(f"sqlite:///{data_dir / 'athena.db'}")
    command.downgrade(migrations.alembic_config(engine), "0003")
    engine.dispose()
    # The saved vector index still holds the episodes.
    assert set(keys) <= {entry.key for entry in _SAVED[saved_at][1]}

    with _open_with_saved_index(data_dir) as athena:
        records = athena.audit.records(order="asc", scope="agent")
        assert [(r.kind, r.migrated) for r in records] == [
            ("execution", True), ("tool_call", True), ("tool_call", True)]
        ran, by_mcp, by_classic = records
        assert ran.id == "01EXECUTION0000000000000000"[:26]
        assert (ran.status, ran.policy, ran.executor, ran.language, ran.call_count) == (
            "ok", "strict", "bwrap", "python", 1)
        assert ran.duration_ms == 123.4 and "athena.recall('zephyr')" in ran.payload
        assert by_mcp.caller == "mcp:claude" and by_mcp.details["execution_id"] == ran.id
        assert by_mcp.details["session"] == "mcp-session"
        assert by_classic.caller == "mcp" and json.loads(by_classic.payload) == {
            "text": "zephyr winds"}
        assert athena.audit.verify().ok
        # Gone from memory: tables, full-text and the saved vector index.
        assert {hit.id for hit in athena.recall("zephyr program tool call", k=20,
                                                scope="agent")} == {own, note}
        assert [e.id for e in athena.episodic.timeline(scope="agent")] == [own]
        assert not any(key in athena.index.backend for key in keys)
        dense = athena.index._dense(athena.index.embedder.embed(
            ["MCP tool call run_code ok"], purpose="query")[0], 50, _filter("agent"))
        assert not {key for key, _ in dense} & set(keys)
        # New records continue the chain.
        athena.audit.append("forget", scope="agent", details={"rows": 0})
        assert athena.audit.verify().ok and athena.audit.verify().records == 4


def _filter(scope: str):
    from athena_core.retrieval.filters import RecallFilter

    return RecallFilter(scope)


# --- the command ------------------------------------------------------------------------


@sqlite_only  # the command reads the data dir's own configuration
def test_cli_lists_shows_and_verifies(athena_factory, data_dir, capsys) -> None:
    from athena_core.cli import main

    athena = athena_factory()
    ids = append_some(athena.audit, 3, scope="team")
    athena.audit.append("forget", scope="other", status="ok", details={"rows": 1})
    home = ["--home", str(data_dir)]

    assert main(["audit", "list", *home, "--scope", "team", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == ids[::-1]
    assert main(["audit", "list", *home, "--kind", "forget", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "forget" in out and "other" in out and ids[0] not in out
    assert main(["audit", "show", ids[1], *home, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seq"] == 2
    assert main(["audit", "verify", *home]) == 0
    assert "4 records" in capsys.readouterr().out

    sql(athena, "UPDATE audit_log SET caller = 'someone' WHERE seq = 2")
    assert main(["audit", "verify", *home]) == 1
    captured = capsys.readouterr()
    assert ids[1] in captured.err and "edited" in captured.err
    assert main(["audit", "verify", *home, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["broken_id"] == ids[1]


def test_scrub_finds_the_text_however_a_program_or_tool_call_quoted_it(athena) -> None:
    """Programs hold a forgotten text as a literal with escapes of their own, tool calls
    as JSON; a very short text is not looked for unquoted (it would match anything)."""
    from athena_core.audit.log import quoted_forms

    text = 'my "secret" pin\nis 4711 — Zoë'
    payloads = {"python": f"athena.remember({text!r})",
                "json": json.dumps({"text": text}, ensure_ascii=False),
                "json-ascii": json.dumps({"text": text}),
                "other": "athena.remember('e')  # and much more 'e'-ish text"}
    assert all(any(form in payloads[kind] for form in quoted_forms(text))
               for kind in ("python", "json", "json-ascii"))
    assert not any(form in payloads["other"] for form in quoted_forms("e"))
    assert quoted_forms("e") == []


def test_an_unreadable_head_is_a_typed_error_and_verify_reports_it(athena) -> None:
    """The head row edited to garbage: appends refuse with CorruptDatabaseError (not a raw
    JSON error), and verify still checks the records and names the head as the fault."""
    from athena_core.errors import CorruptDatabaseError

    append_some(athena.audit, 3)
    sql(athena, "UPDATE athena_state SET value = 'garbage' WHERE key = :key", key="audit_head")
    with pytest.raises(CorruptDatabaseError, match="head"):
        append_some(athena.audit, 1)
    check = athena.audit.verify()
    assert not check.ok and check.records == 3 and "head" in check.reason
