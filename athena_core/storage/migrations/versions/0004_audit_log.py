"""The audit log (``audit_log``), and the audit records moved out of episodic memory.

Executions (episodes of kind ``tool_execution`` whose context has an
``execution_id``) and MCP tool calls (kind ``tool_call``) were recorded as episodes
in the agent's own scope. They become audit records flagged ``migrated``, chained
like the rest, and their memories are deleted with their full-text entries and
vectors. Vector backends keep their own entries (an index file, a table), so the
deletion is also written as an index epoch with its removed keys, exactly as
``forget`` does: every process and backend applies it before its next search.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

from athena_core import _ids
from athena_core.audit.chain import GENESIS, payload_digest, record_hash
from athena_core.storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 500
#: Index epochs whose changed keys are kept (``athena_core.retrieval.index``).
_CHANGES_KEPT = 1_000
_EXCERPT_CUT = "\n[...]"
_LANGUAGE = re.compile(r"^Ran an? (\w+) program")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("policy", sa.String(255), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("executor", sa.String(64), nullable=True),
        sa.Column("language", sa.String(32), nullable=True),
        sa.Column("calls", sa.JSON(), nullable=False),
        sa.Column("call_count", sa.Integer(), nullable=False),
        sa.Column("request_bytes", sa.Integer(), nullable=True),
        sa.Column("response_bytes", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("scrubbed", sa.Boolean(), nullable=False),
        sa.Column("migrated", sa.Boolean(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_log_id")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index("ix_audit_log_scope_seq", "audit_log", ["scope", "seq"])
    _move_audit_episodes()


def downgrade() -> None:
    op.execute("DELETE FROM athena_state WHERE key = 'audit_head'")
    op.drop_index("ix_audit_log_scope_seq", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")


# --- moving the audit episodes --------------------------------------------------------

_memories = sa.table(
    "memories", sa.column("pk", sa.Integer()), sa.column("id", sa.String()),
    sa.column("scope", sa.String()), sa.column("text", sa.Text()),
    sa.column("metadata", sa.JSON()), sa.column("valid_from", UTCDateTime()))
_episodes = sa.table(
    "episodes", sa.column("memory_pk", sa.Integer()), sa.column("session", sa.String()),
    sa.column("kind", sa.String()), sa.column("outcome", sa.String()))
_audit = sa.table(
    "audit_log", sa.column("at", UTCDateTime()), sa.column("duration_ms", sa.Float()),
    sa.column("calls", sa.JSON()), sa.column("details", sa.JSON()),
    sa.column("scrubbed", sa.Boolean()), sa.column("migrated", sa.Boolean()),
    *(sa.column(name, sa.Integer()) for name in (
        "seq", "call_count", "request_bytes", "response_bytes")),
    *(sa.column(name, sa.String()) for name in (
        "id", "kind", "caller", "scope", "policy", "status", "executor", "language",
        "payload_sha256", "payload", "prev_hash", "hash")))
_state = sa.table("athena_state", sa.column("key", sa.String()), sa.column("value", sa.Text()))


def _move_audit_episodes() -> None:
    bind = op.get_bind()
    query = (sa.select(_memories, _episodes.c.session, _episodes.c.kind)
             .join(_episodes, _episodes.c.memory_pk == _memories.c.pk)
             .where(_episodes.c.kind.in_(["tool_execution", "tool_call"]))
             .order_by(_memories.c.valid_from, _memories.c.pk))
    seq, prev = 0, GENESIS
    moved: list[int] = []
    ids: set[str] = set()
    for row in bind.execute(query).mappings():
        context = row["metadata"] if isinstance(row["metadata"], dict) else {}
        if row["kind"] == "tool_execution":
            if "execution_id" not in context:
                continue  # an event an agent recorded itself: it stays a memory
            fields = _execution(row, context)
        else:
            fields = _tool_call(row, context)
        if fields["id"] in ids:
            fields["id"] = _ids.new_id()
        ids.add(fields["id"])
        seq += 1
        fields.update(seq=seq, at=row["valid_from"], scope=row["scope"], scrubbed=False,
                      migrated=True, prev_hash=prev)
        fields["hash"] = prev = record_hash(fields, prev)
        bind.execute(sa.insert(_audit), fields)
        moved.append(row["pk"])
    if seq:
        bind.execute(sa.insert(_state), {"key": "audit_head",
                                         "value": json.dumps({"seq": seq, "hash": prev})})
    if moved:
        _delete_memories(bind, moved)


def _execution(row: Any, context: dict[str, Any]) -> dict[str, Any]:
    first, _, program = row["text"].partition("\n")
    language = _LANGUAGE.match(first)
    duration = context.get("duration_s")
    count = context.get("bridge_calls")
    details = {"truncated": program.endswith(_EXCERPT_CUT)}
    return {"id": str(context["execution_id"])[:26], "kind": "execution", "caller": "unknown",
            "policy": _text(context.get("policy")), "status": _text(context.get("status")),
            "duration_ms": (round(float(duration) * 1000, 3)
                            if isinstance(duration, int | float) else None),
            "executor": _text(context.get("executor")),
            "language": language.group(1) if language else None, "calls": [],
            "call_count": count if isinstance(count, int) else 0,
            "request_bytes": None, "response_bytes": None, "details": details,
            "payload_sha256": payload_digest(program) if program else None,
            "payload": program or None}


def _tool_call(row: Any, context: dict[str, Any]) -> dict[str, Any]:
    client = context.get("client")
    arguments = context.get("arguments")
    payload = (json.dumps(arguments, sort_keys=True, ensure_ascii=False)
               if isinstance(arguments, dict) else None)
    duration = context.get("duration_ms")
    details = {key: value for key, value in {
        "tool": context.get("tool"), "mode": context.get("mode"), "session": row["session"],
        "arguments": ({name: len(json.dumps(value, ensure_ascii=False).encode())
                       for name, value in sorted(arguments.items())}
                      if isinstance(arguments, dict) else None),
        "execution_id": context.get("execution_id"), "error": context.get("error"),
    }.items() if value is not None}
    return {"id": _ids.new_id(), "kind": "tool_call",
            "caller": f"mcp:{client}" if client else "mcp",
            "policy": None, "status": _text(context.get("status")),
            "duration_ms": float(duration) if isinstance(duration, int | float) else None,
            "executor": None, "language": None, "calls": [], "call_count": 0,
            "request_bytes": len(payload.encode()) if payload is not None else None,
            "response_bytes": None, "details": details,
            "payload_sha256": payload_digest(payload) if payload is not None else None,
            "payload": payload}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _delete_memories(bind: Any, keys: list[int]) -> None:
    """Delete the moved memories everywhere, and tell vector backends (an index epoch)."""
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start:start + _BATCH]
        for table in ("embeddings", "episodes"):
            bind.execute(sa.text(f"DELETE FROM {table} WHERE memory_pk IN :keys")
                         .bindparams(sa.bindparam("keys", expanding=True)), {"keys": chunk})
        bind.execute(sa.delete(_memories).where(_memories.c.pk.in_(chunk)))
    if bind.dialect.name == "sqlite":  # no terms left in the full-text index's segments
        bind.exec_driver_sql("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
    state = dict(bind.execute(sa.select(_state.c.key, _state.c.value).where(
        _state.c.key.in_(["index_epoch", "index_high_water"]))).all())
    epoch = int(state.get("index_epoch", 0)) + 1
    _put(bind, "index_epoch", str(epoch), new="index_epoch" not in state)
    high = max(int(state.get("index_high_water", 0)), max(keys))
    _put(bind, "index_high_water", str(high), new="index_high_water" not in state)
    bind.execute(sa.text("DELETE FROM vector_changes WHERE epoch <= :old"),
                 {"old": epoch - _CHANGES_KEPT})
    for start in range(0, len(keys), _BATCH):
        bind.execute(sa.text("INSERT INTO vector_changes (epoch, memory_pk) VALUES (:e, :k)"),
                     [{"e": epoch, "k": key} for key in keys[start:start + _BATCH]])


def _put(bind: Any, key: str, value: str, *, new: bool) -> None:
    if new:
        bind.execute(sa.insert(_state), {"key": key, "value": value})
    else:
        bind.execute(sa.update(_state).where(_state.c.key == key).values(value=value))
