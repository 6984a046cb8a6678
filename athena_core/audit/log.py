"""The audit log: what ran, who called it, in which scope, under which policy.

Not a memory layer: records live in their own table (``audit_log``), are never
embedded or indexed, and no operation of the API registry reads or writes them,
so neither a sandboxed program nor an MCP client can reach them; ``recall`` never
returns them. Only the host (the :class:`~athena_core.Athena` instance, the
``athena audit`` command) appends, lists and verifies.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import attrs
from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from athena_core import _ids, calls
from athena_core._time import as_utc, isoformat, utcnow
from athena_core.audit.chain import GENESIS, payload_digest, record_hash
from athena_core.errors import CorruptDatabaseError, InvalidArgumentError
from athena_core.storage.models import AuditRow, StateRow

if TYPE_CHECKING:
    from athena_core.config import AuditConfig
    from athena_core.execution.model import ExecutionResult
    from athena_core.privacy.vault import Vault
    from athena_core.storage import Storage

__all__ = ["AUDIT_KINDS", "HEAD_KEY", "MIN_SCRUB_CHARS", "AuditLog", "AuditRecord", "ChainCheck",
           "current_caller", "quoted_forms"]

#: Kinds of record Athena writes today (``kind`` is a free string: plugins may add more).
AUDIT_KINDS = ("execution", "tool_call", "forget", "procedure_run", "detokenisation",
               "key_operation", "export")
#: ``athena_state`` key of the chain's head: the last record's ``seq`` and hash.
HEAD_KEY = "audit_head"
_MAX_LIST = 10_000
_VERIFY_BATCH = 1_000
#: Forgotten texts checked per scrub statement.
_SCRUB_BATCH = 50
_audit = cast(Table, AuditRow.__table__)
_state = cast(Table, StateRow.__table__)
#: Core statements, compiled once: they run on every execution and tool call.
_INSERT = insert(_audit)
_HEAD = select(_state.c.value).where(_state.c.key == HEAD_KEY)
_NEW_HEAD = insert(_state).values(key=HEAD_KEY)
_MOVE_HEAD = update(_state).where(_state.c.key == HEAD_KEY).values(
    value=bindparam("head_value"))


@attrs.frozen
class AuditRecord:
    """One record of the audit log."""

    id: str
    #: Its place in the hash chain (1, 2, ...).
    seq: int
    at: datetime
    #: ``execution``, ``tool_call``, ``forget``, ``procedure_run`` (see :data:`AUDIT_KINDS`).
    kind: str
    #: Who: ``host``, ``cli``, ``program:<execution id>``, ``mcp:<client>``.
    caller: str
    scope: str
    policy: str | None
    status: str | None
    duration_ms: float | None
    executor: str | None
    language: str | None
    #: Names of the operations a program called through the bridge, in order.
    calls: tuple[str, ...]
    call_count: int
    request_bytes: int | None
    response_bytes: int | None
    #: The kind's own fields (a tool call's tool and argument names and sizes, a
    #: forget's row count and selector); never memory text.
    details: Mapping[str, Any]
    #: sha256 of the program text or of the arguments as JSON (kept when scrubbed).
    payload_sha256: str | None
    #: The program text or argument values, while ``[audit] keep_programs`` is on.
    payload: str | None
    #: The payload was removed because a forget removed text it quoted.
    scrubbed: bool
    #: Moved here from episodic memory when the database was upgraded.
    migrated: bool
    prev_hash: str
    hash: str

    @classmethod
    def from_record(cls, record: Mapping[Any, Any]) -> AuditRecord:
        """From a Core row of ``audit_log`` (``row._mapping``)."""
        return cls(id=record["id"], seq=record["seq"], at=record["at"], kind=record["kind"],
                   caller=record["caller"], scope=record["scope"], policy=record["policy"],
                   status=record["status"], duration_ms=record["duration_ms"],
                   executor=record["executor"], language=record["language"],
                   calls=tuple(record["calls"] or ()), call_count=record["call_count"],
                   request_bytes=record["request_bytes"],
                   response_bytes=record["response_bytes"],
                   details=dict(record["details"] or {}),
                   payload_sha256=record["payload_sha256"], payload=record["payload"],
                   scrubbed=bool(record["scrubbed"]), migrated=bool(record["migrated"]),
                   prev_hash=record["prev_hash"], hash=record["hash"])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the time as an ISO-8601 string)."""
        data = attrs.asdict(self, recurse=False)
        data["at"] = isoformat(self.at)
        data["calls"] = list(self.calls)
        data["details"] = dict(self.details)
        return data


@attrs.frozen
class ChainCheck:
    """What :meth:`AuditLog.verify` found."""

    #: Every record is where it was appended, as it was appended.
    ok: bool
    #: Records checked.
    records: int
    #: Hash of the last record (publish it elsewhere to anchor the log); ``None`` if empty.
    head: str | None = None
    #: The first record found broken (or, when records at the end were removed, the
    #: last one left), and why.
    broken_seq: int | None = None
    broken_id: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class AuditLog:
    """The audit log of one database (``athena.audit``)."""

    storage: Storage
    config: AuditConfig
    #: The vault of sensitive values (``[privacy] conceal``): a stored payload (a
    #: program, arguments) holds placeholders of kept values and redactions of others
    #: (``[EMAIL]``), never the values.
    vault: Vault | None = None

    # --- appending -------------------------------------------------------------------

    def append(self, kind: str, *, scope: str, caller: str | None = None,
               policy: str | None = None, status: str | None = None,
               duration_ms: float | None = None, executor: str | None = None,
               language: str | None = None, calls: Sequence[str] = (),
               call_count: int | None = None, request_bytes: int | None = None,
               response_bytes: int | None = None, details: Mapping[str, Any] | None = None,
               payload: str | None = None, id: str | None = None,
               session: Session | None = None) -> AuditRecord:
        """Append one record and return it.

        ``caller`` defaults to the caller of the bound call context (``host`` outside
        any). ``payload`` (a program, arguments as JSON) is hashed always and stored
        only while ``[audit] keep_programs`` is on. With ``session``, the record is
        written in that write transaction (committed or rolled back with it);
        otherwise in a write transaction of its own. Writes are serialised across
        threads and processes (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on
        PostgreSQL), so the chain never forks.
        """
        if not kind or not kind.strip() or len(kind) > 64:
            raise InvalidArgumentError("an audit record needs a kind of at most 64 characters.")
        if payload is not None:
            payload = _storable(payload)
        fields: dict[str, Any] = {
            "id": id or _ids.new_id(), "kind": kind,
            "caller": (caller or current_caller())[:255], "scope": scope, "policy": policy,
            "status": status,
            "duration_ms": None if duration_ms is None else round(float(duration_ms), 3),
            "executor": executor, "language": language, "calls": list(calls),
            "call_count": len(calls) if call_count is None else call_count,
            "request_bytes": request_bytes, "response_bytes": response_bytes,
            "details": _json_safe(details or {}),
            "payload_sha256": None if payload is None else payload_digest(payload),
            "payload": payload if self.config.keep_programs else None,
            "scrubbed": False, "migrated": False}
        with self._writing(session) as db:
            if payload is not None and self.vault is not None:
                concealed = self.vault.conceal_record(payload, scope=scope, session=db)
                if concealed != payload:
                    payload = concealed
                    fields["payload_sha256"] = payload_digest(payload)
                    fields["payload"] = payload if self.config.keep_programs else None
            connection = db.connection()
            value = connection.execute(_HEAD).scalar()
            seq, prev = _parse_head(value)
            # Timed under the write lock, so that times follow the chain's order.
            fields["at"] = utcnow()
            fields["seq"], fields["prev_hash"] = seq + 1, prev
            fields["hash"] = record_hash(fields, prev)
            connection.execute(_INSERT, fields)
            head = json.dumps({"seq": fields["seq"], "hash": fields["hash"]})
            if value is None:
                connection.execute(_NEW_HEAD, {"value": head})
            else:
                connection.execute(_MOVE_HEAD, {"head_value": head})
        return AuditRecord.from_record(fields)

    def record_execution(self, result: ExecutionResult, *, code: str, scope: str,
                         session: Session | None = None) -> AuditRecord:
        """The record of one execution (its id is the execution's id)."""
        value = b"" if result.value is None else json.dumps(
            result.value, ensure_ascii=False, default=str).encode("utf-8", "replace")
        bridge = result.bridge_calls
        details: dict[str, Any] = {
            "error": result.error.type if result.error else None,
            "violations": len(result.violations),
            "failed_calls": sum(1 for call in bridge if not call.ok),
            "bridge_request_bytes": sum(call.request_bytes for call in bridge),
            "bridge_response_bytes": sum(call.response_bytes for call in bridge),
            "cpu_s": round(result.cpu_s, 4), "peak_memory_bytes": result.peak_memory_bytes}
        return self.append(
            "execution", id=result.id, scope=scope, policy=result.policy,
            status=result.status, duration_ms=result.duration_s * 1000,
            executor=result.executor, language=result.language,
            calls=[call.operation for call in bridge],
            request_bytes=_size(code),
            response_bytes=_size(result.stdout) + _size(result.stderr) + len(value),
            details={k: v for k, v in details.items() if v is not None}, payload=code,
            session=session)

    def record_tool_call(self, tool: str, arguments: Mapping[str, Any], *, scope: str,
                         caller: str, status: str, duration_ms: float, mode: str,
                         client: str | None = None, client_declared: bool = False,
                         session_id: str | None = None,
                         execution_id: str | None = None,
                         error: str | None = None, response_bytes: int | None = None,
                         session: Session | None = None) -> AuditRecord:
        """The record of one MCP tool call: the tool, its argument names and sizes, and
        (while ``keep_programs`` is on) the argument values, except for a call that ran
        a program (``execution_id``), whose program is in that execution's record."""
        encoded = {name: _jsonable(value) for name, value in arguments.items()}
        text = json.dumps(encoded, sort_keys=True, ensure_ascii=False, default=str)
        details: dict[str, Any] = {
            "tool": tool, "mode": mode, "client": client,
            # a name the client gave itself (stdio, the server's own token): not checked
            "client_declared": client_declared or None, "session": session_id,
            "arguments": {name: _size(json.dumps(value, ensure_ascii=False, default=str))
                          for name, value in sorted(encoded.items())},
            "execution_id": execution_id, "error": error}
        record = self.append(
            "tool_call", scope=scope, caller=caller, status=status, duration_ms=duration_ms,
            request_bytes=_size(text), response_bytes=response_bytes,
            details={k: v for k, v in details.items() if v is not None},
            payload=None if execution_id else text, session=session)
        return record

    def record_forget(self, *, scope: str, rows: int, selector: str = "ids",
                      layers: Iterable[str] = (), scrubbed: int = 0, values: int = 0,
                      erased: Mapping[str, int] | None = None,
                      session: Session | None = None) -> AuditRecord:
        """That a forget happened: who, in which scope, how many rows, chosen how, how
        many records' payloads it scrubbed, sensitive values it erased from the vault and
        other items it erased (``erased``: procedures from git, graph entities and facts;
        never what was forgotten)."""
        details: dict[str, Any] = {"rows": rows, "selector": selector,
                                   "layers": sorted(set(layers)), "scrubbed": scrubbed}
        if values:
            details["values"] = values
        details.update((name, count) for name, count in (erased or {}).items() if count)
        return self.append("forget", scope=scope, status="ok", details=details,
                           session=session)

    # --- forgetting ------------------------------------------------------------------

    def scrub(self, scope: str, texts: Iterable[str] | None, *,
              session: Session | None = None) -> int:
        """Remove the stored payload of every record of ``scope`` that quotes one of
        ``texts`` (memories being forgotten; ``None``: every payload of the scope, for a
        forget of the whole scope); return how many records were scrubbed.

        A text is looked for as the string literal a program or a tool call's JSON
        arguments would hold it in (:func:`quoted_forms`). The record stays, with its
        payload's sha256, so the chain stays valid; it is marked ``scrubbed``. With
        ``session``, in that write transaction.
        """
        needles = None if texts is None else list(dict.fromkeys(
            form for text in texts for form in quoted_forms(text)))
        if needles == []:
            return 0
        scrubbed = 0
        with self._writing(session) as db:
            contains = (func.instr if db.get_bind().dialect.name == "sqlite"
                        else func.strpos)
            batches = [None] if needles is None else [
                needles[start:start + _SCRUB_BATCH]
                for start in range(0, len(needles), _SCRUB_BATCH)]
            for batch in batches:
                quoting = [] if batch is None else [
                    or_(*(contains(_audit.c.payload, needle) > 0 for needle in batch))]
                result = db.connection().execute(
                    update(_audit)
                    .where(_audit.c.scope == scope, _audit.c.payload.is_not(None), *quoting)
                    .values(payload=None, scrubbed=True))
                scrubbed += result.rowcount or 0
        return scrubbed

    # --- reading ---------------------------------------------------------------------

    def records(self, *, scope: str | None = None, kind: str | None = None,
                status: str | None = None, since: datetime | str | None = None,
                until: datetime | str | None = None, limit: int = 100,
                order: str = "desc", after: int | None = None) -> list[AuditRecord]:
        """Records, the latest first (``order="asc"``: oldest first), optionally of one
        scope, kind and status, appended in [since, until), and after the record whose
        ``seq`` is ``after`` (to page through the log oldest first)."""
        if not 1 <= limit <= _MAX_LIST:
            raise InvalidArgumentError(f"limit must be between 1 and {_MAX_LIST}.")
        if order not in ("asc", "desc"):
            raise InvalidArgumentError(f"order must be 'asc' or 'desc', not {order!r}.")
        stmt = select(_audit)
        for column, value in ((_audit.c.scope, scope), (_audit.c.kind, kind),
                              (_audit.c.status, status)):
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(_audit.c.at >= as_utc(since, name="since"))
        if until is not None:
            stmt = stmt.where(_audit.c.at < as_utc(until, name="until"))
        if after is not None:
            stmt = stmt.where(_audit.c.seq > after)
        stmt = stmt.order_by(_audit.c.seq.desc() if order == "desc" else _audit.c.seq)
        with self.storage.snapshot() as connection:
            return [AuditRecord.from_record(row._mapping)
                    for row in connection.execute(stmt.limit(limit))]

    def get(self, id: str) -> AuditRecord:
        """The record with ``id`` (an execution's record has the execution's id)."""
        with self.storage.snapshot() as connection:
            row = connection.execute(select(_audit).where(_audit.c.id == id)).first()
        if row is None:
            raise InvalidArgumentError(f"No audit record {id!r}.",
                                       hint="List records with `athena audit list`.")
        return AuditRecord.from_record(row._mapping)

    def verify(self) -> ChainCheck:
        """Walk the whole chain and say whether it is intact, or where and why not.

        Detects a record whose hashed fields were edited, a payload that no longer
        matches its sha256, a removed record (in the middle or at the end) and records
        moved to other places.
        """
        count, seq, prev, last_id = 0, 0, GENESIS, None
        unreadable: str | None
        with self.storage.read() as db:
            try:
                head = _parse_head(db.connection().execute(_HEAD).scalar())
            except CorruptDatabaseError as exc:  # the records may still be checked
                head, unreadable = (-1, ""), exc.message
            else:
                unreadable = None
            while True:
                rows = db.execute(select(_audit).where(_audit.c.seq > seq)
                                  .order_by(_audit.c.seq).limit(_VERIFY_BATCH)).all()
                for row in rows:
                    record = row._mapping
                    reason = _problem(record, seq, prev)
                    if reason is not None:
                        return ChainCheck(ok=False, records=count, head=head[1] or None,
                                          broken_seq=record["seq"], broken_id=record["id"],
                                          reason=reason)
                    count, seq, prev, last_id = count + 1, record["seq"], record["hash"], \
                        record["id"]
                if len(rows) < _VERIFY_BATCH:
                    break
        if unreadable is not None:
            return ChainCheck(ok=False, records=count, head=None, broken_seq=seq or None,
                              broken_id=last_id, reason=unreadable)
        if head != (seq, prev if seq else GENESIS):
            if head[0] > seq:
                reason = (f"the log ends at record {seq}, but {head[0]} were appended: "
                          "records at its end were removed")
            else:
                reason = "its last record is not the one appended last"
            return ChainCheck(ok=False, records=count, head=head[1] or None,
                              broken_seq=seq or None, broken_id=last_id, reason=reason)
        return ChainCheck(ok=True, records=count, head=prev if count else None)

    # --- plumbing --------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
            return
        with self.storage.write() as db:
            yield db


def current_caller(default: str = "host") -> str:
    """Who the bound call context says is calling (``default`` outside any call)."""
    context = calls.current()
    return context.caller if context is not None else default


def _problem(record: Mapping[Any, Any], seq: int, prev: str) -> str | None:
    """Why ``record``, met after record ``seq`` hashed ``prev``, breaks the chain."""
    if record["seq"] != seq + 1:
        missing = (f"record {seq + 1}" if record["seq"] == seq + 2
                   else f"records {seq + 1} to {record['seq'] - 1}")
        return f"{missing} before it {'is' if record['seq'] == seq + 2 else 'are'} missing"
    if record["prev_hash"] != prev:
        return ("it does not follow the record before it: a record was removed, inserted "
                "or moved")
    if record_hash(record, prev) != record["hash"]:
        return "its fields do not match its hash: the record was edited"
    payload = record["payload"]
    if payload is not None and payload_digest(payload) != record["payload_sha256"]:
        return "its stored program or arguments do not match their sha256: they were edited"
    return None


def _parse_head(value: str | None) -> tuple[int, str]:
    """The chain's head: the last record's seq and hash (0 and the genesis hash if none)."""
    if value is None:
        return 0, GENESIS
    try:
        data = json.loads(value)
        return int(data["seq"]), str(data["hash"])
    except (ValueError, TypeError, KeyError):
        raise CorruptDatabaseError(
            "The audit log's head (the last record's number and hash) is unreadable: it "
            "was edited outside Athena.",
            hint="Run `athena audit verify` to see how far the log is intact, and restore "
                 "the database from a backup.") from None


def _storable(text: str) -> str:
    """``text`` as every database stores it (valid UTF-8, no NUL); hashed in this form."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _size(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return str(value)
    return value


def _json_safe(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` as JSON data (checked now, so the hash and the stored row agree)."""
    try:
        safe: dict[str, Any] = json.loads(json.dumps(dict(details), allow_nan=False,
                                                      ensure_ascii=False))
        return safe
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"audit details must be JSON data: {exc}.") from None


#: Shortest quoted form of a forgotten text that a scrub looks for: shorter ones (a text
#: of one or two characters between its quotes) match too many unrelated programs.
MIN_SCRUB_CHARS = 5


def quoted_forms(text: str) -> list[str]:
    """How a program or a tool call's JSON arguments quote ``text``: as a JSON or
    double-quoted literal (non-ASCII kept or ``\\u``-escaped), as Python's ``repr``, and,
    for a text long enough to be specific, as it is (a triple-quoted or concatenated
    literal holds it unescaped)."""
    forms = [json.dumps(text, ensure_ascii=False), json.dumps(text), repr(text)]
    if len(text.strip()) >= 12:
        forms += [text, *(form[1:-1] for form in forms)]
    return [form for form in dict.fromkeys(forms) if len(form) >= MIN_SCRUB_CHARS]
