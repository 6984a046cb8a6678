"""SQLAlchemy 2 table models (rows only; domain values live in ``athena_core.memory.values``).

Every memory, whatever its layer, is one row of ``memories`` (id, scope, text,
metadata, timestamps, validity window); a layer keeps its own columns in a table
keyed by ``memories.pk`` with ``ON DELETE CASCADE``, so deleting a memory row
removes everything about it. ``pk`` is an internal, never-reused integer (it is
the full-text rowid and the vector key); ``id`` is the public id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from athena_core import _ids

__all__ = ["AltEmbeddingRow", "AuditRow", "Base", "EmbeddingRow", "EpisodeRow", "FactRow",
           "GraphAliasRow", "GraphCascadeRow", "GraphEntityRow", "GraphFactRow",
           "GraphFactSourceRow", "GraphMentionRow", "GraphStaleRow", "GraphTypeRow",
           "MemoryRow", "PrivacyKeyRow", "ProcedureRow", "ProcedureVersionRow", "SensitiveValueRow",
           "StateRow", "TaskDependencyRow", "TaskRow", "TriggerCueRow", "TriggerRow",
           "TriggerRunRow", "UTCDateTime",
           "VectorChangeRow", "embedding_table"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MemoryRow(Base):
    """One memory of any layer."""

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_scope_layer_valid_to", "scope", "layer", "valid_to"),
        Index("ix_memories_scope_layer_valid_from", "scope", "layer", "valid_from"),
        {"sqlite_autoincrement": True},
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(_ids.LENGTH), unique=True)
    scope: Mapped[str] = mapped_column(String(255))
    layer: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When this memory became true (facts) or happened (episodes).
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When it stopped being true (a superseded fact); ``None`` while current.
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class _VectorColumns:
    """The columns of a vector table: one memory's vector, as float32 bytes."""

    memory_pk: Mapped[int] = mapped_column(
        ForeignKey("memories.pk", ondelete="CASCADE"), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class EmbeddingRow(_VectorColumns, Base):
    """The vector of one memory in an even embedder generation (see ``embedding_table``)."""

    __tablename__ = "embeddings"


class AltEmbeddingRow(_VectorColumns, Base):
    """The vector of one memory in an odd embedder generation (see ``embedding_table``)."""

    __tablename__ = "embeddings_alt"


def embedding_table(generation: int) -> Table:
    """The table that holds the vectors of embedder ``generation``.

    Each ``athena reindex`` starts a new generation and writes its vectors into the
    table the current generation does not use, so the current vectors stay whole
    (and searchable) until the new ones are complete; the switch is then one row.
    """
    return (EmbeddingRow if generation % 2 == 0 else AltEmbeddingRow).__table__  # type: ignore[return-value]


class EpisodeRow(Base):
    """Episodic columns of a memory."""

    __tablename__ = "episodes"

    memory_pk: Mapped[int] = mapped_column(
        ForeignKey("memories.pk", ondelete="CASCADE"), primary_key=True)
    session: Mapped[str | None] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(64))
    #: Who said or did it (a person, an agent, a tool); recall favours the actors a query names.
    actor: Mapped[str | None] = mapped_column(String(255))
    #: SHA-256 of the canonical event (scope included), for exact-repeat dedup.
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)


class FactRow(Base):
    """Semantic columns of a memory: versions of one fact share a ``lineage_id``."""

    __tablename__ = "facts"

    memory_pk: Mapped[int] = mapped_column(
        ForeignKey("memories.pk", ondelete="CASCADE"), primary_key=True)
    lineage_id: Mapped[str] = mapped_column(String(_ids.LENGTH), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    superseded_by: Mapped[str | None] = mapped_column(String(_ids.LENGTH))
    supersede_reason: Mapped[str | None] = mapped_column(Text)


class StateRow(Base):
    """Small key/value facts about the store (embedder identity, index epoch)."""

    __tablename__ = "athena_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class VectorChangeRow(Base):
    """Existing memories changed in an index epoch (forgotten, superseded, re-validated).

    Written in the transaction that bumps the epoch, so that another process whose
    vector index is a few epochs behind applies just these memories instead of
    rebuilding its index; only the latest epochs are kept.
    """

    __tablename__ = "vector_changes"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    memory_pk: Mapped[int] = mapped_column(Integer, primary_key=True)


class AuditRow(Base):
    """One record of the audit log (:mod:`athena_core.audit`): not a memory.

    Records are only appended. ``seq`` orders the hash chain: ``prev_hash`` is the
    hash of the record before, ``hash`` this record's own over its accountable
    fields (:func:`athena_core.audit.chain.record_hash`). Of a stored record only
    ``payload`` (a program's text, a tool call's argument values) may change later:
    scrubbed when a forget removes text it quotes; its sha256 stays in the hash.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_scope_seq", "scope", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(_ids.LENGTH), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(64))
    #: Who: ``host``, ``cli``, ``program:<execution id>``, ``mcp:<client>``.
    caller: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(32))
    duration_ms: Mapped[float | None] = mapped_column(Float)
    executor: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(32))
    #: Names of the operations called (a program's bridge calls), in order.
    calls: Mapped[list[str]] = mapped_column(JSON)
    call_count: Mapped[int] = mapped_column(Integer)
    request_bytes: Mapped[int | None] = mapped_column(Integer)
    response_bytes: Mapped[int | None] = mapped_column(Integer)
    #: Further accountable fields of the record's kind (never memory text).
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    #: The program text or argument values, kept while ``[audit] keep_programs`` is on.
    payload: Mapped[str | None] = mapped_column(Text)
    scrubbed: Mapped[bool] = mapped_column(Boolean)
    #: Moved here from episodic memory by the migration to schema 0004.
    migrated: Mapped[bool] = mapped_column(Boolean)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


class ProcedureRow(Base):
    """One procedure of the catalog (:mod:`athena_core.procedures.catalog`).

    The procedure's code and history live in its git repository; these rows index them
    so that listing and searching never read git.
    """

    __tablename__ = "procedures"

    #: ``namespace/name``.
    id: Mapped[str] = mapped_column(String(129), primary_key=True)
    #: Of its newest version.
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(32))
    #: ``active`` if a version is active, ``retired`` if every version is, else ``candidate``.
    status: Mapped[str] = mapped_column(String(16), index=True)
    active_commit: Mapped[str | None] = mapped_column(String(40))
    latest_commit: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcedureVersionRow(Base):
    """One version (commit) of a procedure, with what the gate decided about it."""

    __tablename__ = "procedure_versions"

    procedure_id: Mapped[str] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), primary_key=True)
    commit_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: 1, 2, ... in commit order, per procedure.
    number: Mapped[int] = mapped_column(Integer)
    #: ``candidate``, ``active`` or ``retired``.
    status: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The gate's report (:class:`~athena_core.procedures.model.ValidationReport`), if any.
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Real runs of this version (``athena.procedures.run``) and how many succeeded.
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    successes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class PrivacyKeyRow(Base):
    """One key of the privacy key hierarchy (:mod:`athena_core.privacy.keys`), wrapped.

    ``purpose`` is ``data`` (encrypts sensitive values; a new version per rotation) or
    ``index`` (derives placeholders; one, never rotated). ``wrapped`` is the key under
    the master key from the key provider (AES-256-GCM, associated data naming purpose and
    version); ``master_id`` identifies that master key without revealing it.
    """

    __tablename__ = "privacy_keys"
    __table_args__ = (PrimaryKeyConstraint("purpose", "version"),)

    purpose: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, autoincrement=False)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When the version was retired (no value is left on it); ``None`` while in use.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SensitiveValueRow(Base):
    """One sensitive value of one scope (:mod:`athena_core.privacy.vault`): stored once,
    as AES-256-GCM ciphertext, and found by the keyed hash of the value (``digest``), so
    no plaintext index exists. ``token`` is the placeholder text and memories hold in its
    place (``[EMAIL_k3x7q2mz]``).
    """

    __tablename__ = "sensitive_values"
    __table_args__ = (UniqueConstraint("scope", "digest", name="uq_sensitive_values_digest"),
                      UniqueConstraint("scope", "token", name="uq_sensitive_values_token"))

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(255))
    #: HMAC-SHA256 of the value under the scope's placeholder key, hex.
    digest: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(96))
    #: The detected type (``email``, ``github_token``, ...).
    type: Mapped[str] = mapped_column(String(64))
    #: The data key version the ciphertext is under.
    key_version: Mapped[int] = mapped_column(Integer, index=True)
    #: nonce (12 bytes) + AES-256-GCM ciphertext and tag of the value's UTF-8.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- the knowledge graph (athena_core.graph) -------------------------------------------


class GraphEntityRow(Base):
    """An entity of the knowledge graph: its name, type and whether extraction made it."""

    __tablename__ = "graph_entities"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_graph_entities_key"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(255))
    #: The name as it is matched: case-folded, spaces collapsed.
    key: Mapped[str] = mapped_column(String(512))
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(64))
    #: Made by extraction from memories (removed with the last memory that mentions it).
    extracted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GraphAliasRow(Base):
    """Another name an entity is found by."""

    __tablename__ = "graph_aliases"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_graph_aliases_key"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(512))
    alias: Mapped[str] = mapped_column(Text)
    entity_pk: Mapped[int] = mapped_column(
        ForeignKey("graph_entities.pk", ondelete="CASCADE"), index=True)


class GraphTypeRow(Base):
    """A declared relation or observation type: functional ones hold one value at a time."""

    __tablename__ = "graph_types"
    __table_args__ = (PrimaryKeyConstraint("scope", "name"),)

    scope: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(128))
    functional: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GraphCascadeRow(Base):
    """A cascade rule: a change of ``trigger`` makes the entity's ``dependent`` facts stale."""

    __tablename__ = "graph_cascades"
    __table_args__ = (PrimaryKeyConstraint("scope", "trigger", "dependent"),)

    scope: Mapped[str] = mapped_column(String(255))
    trigger: Mapped[str] = mapped_column(String(128))
    dependent: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GraphFactRow(Base):
    """One assertion: a relation (``object_pk``) or an observation (``value``) about a
    subject, true over [``valid_from``, ``valid_to``) in the world and believed over
    [``recorded_at``, ``retracted_at``) by Athena. Only ``retracted_at`` (with
    ``retracted_by``) is ever set after insertion, once; the valid interval never changes."""

    __tablename__ = "graph_facts"
    __table_args__ = (
        Index("ix_graph_facts_slot", "subject_pk", "predicate", "valid_from"),
        Index("ix_graph_facts_object", "object_pk"),
        {"sqlite_autoincrement": True},
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(_ids.LENGTH), unique=True)
    scope: Mapped[str] = mapped_column(String(255))
    subject_pk: Mapped[int] = mapped_column(ForeignKey("graph_entities.pk", ondelete="CASCADE"))
    predicate: Mapped[str] = mapped_column(String(128))
    object_pk: Mapped[int | None] = mapped_column(
        ForeignKey("graph_entities.pk", ondelete="CASCADE"))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: The fact whose recording retracted this one (``None``: retracted on its own).
    retracted_by: Mapped[str | None] = mapped_column(String(_ids.LENGTH), default=None)
    #: The fact this one is a remaining part or a correction of.
    derived_from: Mapped[str | None] = mapped_column(String(_ids.LENGTH), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class GraphFactSourceRow(Base):
    """A memory that asserted a fact; a fact whose every source is forgotten goes too."""

    __tablename__ = "graph_fact_sources"
    __table_args__ = (PrimaryKeyConstraint("fact_pk", "memory_pk"),)

    fact_pk: Mapped[int] = mapped_column(ForeignKey("graph_facts.pk", ondelete="CASCADE"))
    memory_pk: Mapped[int] = mapped_column(ForeignKey("memories.pk", ondelete="CASCADE"),
                                           index=True)


class GraphMentionRow(Base):
    """A memory that mentions an entity."""

    __tablename__ = "graph_mentions"
    __table_args__ = (PrimaryKeyConstraint("memory_pk", "entity_pk"),)

    memory_pk: Mapped[int] = mapped_column(ForeignKey("memories.pk", ondelete="CASCADE"))
    entity_pk: Mapped[int] = mapped_column(
        ForeignKey("graph_entities.pk", ondelete="CASCADE"), index=True)


class GraphStaleRow(Base):
    """A cascade's mark: ``fact_pk`` may no longer hold since ``cause`` changed."""

    __tablename__ = "graph_stale"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fact_pk: Mapped[int] = mapped_column(ForeignKey("graph_facts.pk", ondelete="CASCADE"),
                                         index=True)
    #: The id of the fact whose recording or retraction made it stale.
    cause: Mapped[str] = mapped_column(String(_ids.LENGTH))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- prospective memory (athena_core.prospective) ----------------------------------------


class TaskRow(Base):
    """One intention of prospective memory (:mod:`athena_core.prospective`): a task, a
    goal or a reminder, with its status, priority, parent goal and due time."""

    __tablename__ = "prospective_items"
    __table_args__ = (Index("ix_prospective_items_scope_status", "scope", "status"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(_ids.LENGTH), unique=True)
    scope: Mapped[str] = mapped_column(String(255))
    #: ``task``, ``goal`` or ``reminder``.
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    #: ``pending``, ``active``, ``done``, ``cancelled``, ``overdue`` or ``failed``.
    status: Mapped[str] = mapped_column(String(16))
    #: 0 (low) to 3 (urgent).
    priority: Mapped[int] = mapped_column(Integer)
    parent_pk: Mapped[int | None] = mapped_column(
        ForeignKey("prospective_items.pk", ondelete="SET NULL"), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    #: ``due_at`` plus the grace period: past it, an unfinished item is overdue.
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    #: Why it failed, or how it was done (free text).
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskDependencyRow(Base):
    """``item_pk`` may not fire or start before ``depends_on_pk`` is done."""

    __tablename__ = "prospective_dependencies"

    item_pk: Mapped[int] = mapped_column(
        ForeignKey("prospective_items.pk", ondelete="CASCADE"), primary_key=True)
    depends_on_pk: Mapped[int] = mapped_column(
        ForeignKey("prospective_items.pk", ondelete="CASCADE"), primary_key=True, index=True)


class TriggerRow(Base):
    """One trigger of an intention: a time trigger (``at``, ``every``, ``cron``,
    ``rrule``; ``next_fire`` is its next instant, ``None`` once finished) or an event or
    context trigger (``event``, ``context``; found through its cues)."""

    __tablename__ = "prospective_triggers"
    __table_args__ = (Index("ix_prospective_triggers_due", "waiting", "next_fire"),
                      Index("ix_prospective_triggers_scope_due", "scope", "waiting",
                            "next_fire"))

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(_ids.LENGTH), unique=True)
    scope: Mapped[str] = mapped_column(String(255))
    item_pk: Mapped[int] = mapped_column(
        ForeignKey("prospective_items.pk", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: The canonical schedule or condition (:mod:`athena_core.prospective.schedule`,
    #: :mod:`athena_core.prospective.cues`).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: ``catch_up_all``, ``coalesce_once`` or ``skip``.
    misfire: Mapped[str] = mapped_column(String(16))
    grace_seconds: Mapped[int] = mapped_column(Integer)
    next_fire: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Its intention waits for dependencies: not fired until they are done.
    waiting: Mapped[bool] = mapped_column(Boolean)
    #: ``active``, ``finished`` or ``cancelled``.
    status: Mapped[str] = mapped_column(String(16))
    #: An event or context trigger that fires once (else on every matching event).
    once: Mapped[bool] = mapped_column(Boolean)
    fires: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TriggerCueRow(Base):
    """One cue of an event or context trigger: a key an event must carry for the trigger
    to be considered (``kind:error``, ``word:deploy``, ``path:/srv/app``...), so a write
    looks up its own keys instead of scanning every trigger."""

    __tablename__ = "prospective_cues"
    __table_args__ = (Index("ix_prospective_cues_scope_key", "scope", "key"),)

    trigger_pk: Mapped[int] = mapped_column(
        ForeignKey("prospective_triggers.pk", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(255))


class TriggerRunRow(Base):
    """One fire of a trigger (or an intention falling overdue): when, what it was for,
    its outcome and to whom it was delivered. ``occurrence`` names what fired (a time
    trigger's instant, an event's id), unique per intention, so a fire is recorded once
    however many processes see it."""

    __tablename__ = "prospective_runs"
    __table_args__ = (UniqueConstraint("item_pk", "occurrence",
                                       name="uq_prospective_runs_occurrence"),
                      Index("ix_prospective_runs_scope_delivered", "scope", "delivered_at"))

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(_ids.LENGTH), unique=True)
    scope: Mapped[str] = mapped_column(String(255))
    item_pk: Mapped[int] = mapped_column(
        ForeignKey("prospective_items.pk", ondelete="CASCADE"), index=True)
    trigger_pk: Mapped[int | None] = mapped_column(
        ForeignKey("prospective_triggers.pk", ondelete="CASCADE"), index=True)
    occurrence: Mapped[str] = mapped_column(String(128))
    #: The instant it was due (time triggers and overdue records).
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: ``fired``, ``late``, ``caught_up``, ``coalesced``, ``skipped`` or ``overdue``.
    outcome: Mapped[str] = mapped_column(String(16))
    #: How many instants this record stands for (a coalesced or skipped stretch).
    instants: Mapped[int] = mapped_column(Integer)
    #: What fired an event or context trigger (the memory id, operation, cue).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    delivered_to: Mapped[str | None] = mapped_column(String(255))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
