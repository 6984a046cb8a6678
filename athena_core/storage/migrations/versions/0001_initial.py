"""Initial schema: memories with full-text search, embeddings, episodes, facts, state.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from athena_core.storage.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_FTS_TRIGGERS = {
    "memories_fts_insert": """
        CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
            INSERT INTO memories_fts(rowid, text) VALUES (new.pk, new.text);
        END""",
    "memories_fts_delete": """
        CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
            INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.pk, old.text);
        END""",
    "memories_fts_update": """
        CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN
            INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.pk, old.text);
            INSERT INTO memories_fts(rowid, text) VALUES (new.pk, new.text);
        END""",
}


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("layer", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_to", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_memories")),
        sa.UniqueConstraint("id", name=op.f("uq_memories_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_memories_scope_layer_valid_to", "memories",
                    ["scope", "layer", "valid_to"])
    op.create_index("ix_memories_scope_layer_valid_from", "memories",
                    ["scope", "layer", "valid_from"])
    op.create_table(
        "embeddings",
        sa.Column("memory_pk", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["memory_pk"], ["memories.pk"], ondelete="CASCADE",
                                name=op.f("fk_embeddings_memory_pk_memories")),
        sa.PrimaryKeyConstraint("memory_pk", name=op.f("pk_embeddings")),
    )
    op.create_table(
        "episodes",
        sa.Column("memory_pk", sa.Integer(), nullable=False),
        sa.Column("session", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["memory_pk"], ["memories.pk"], ondelete="CASCADE",
                                name=op.f("fk_episodes_memory_pk_memories")),
        sa.PrimaryKeyConstraint("memory_pk", name=op.f("pk_episodes")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_episodes_content_hash")),
    )
    op.create_index(op.f("ix_episodes_session"), "episodes", ["session"])
    op.create_table(
        "facts",
        sa.Column("memory_pk", sa.Integer(), nullable=False),
        sa.Column("lineage_id", sa.String(26), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("superseded_by", sa.String(26), nullable=True),
        sa.Column("supersede_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["memory_pk"], ["memories.pk"], ondelete="CASCADE",
                                name=op.f("fk_facts_memory_pk_memories")),
        sa.PrimaryKeyConstraint("memory_pk", name=op.f("pk_facts")),
    )
    op.create_index(op.f("ix_facts_lineage_id"), "facts", ["lineage_id"])
    op.create_table(
        "athena_state",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_athena_state")),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', "
            "content_rowid='pk', tokenize='porter unicode61 remove_diacritics 2')")
        for ddl in _FTS_TRIGGERS.values():
            op.execute(ddl)
    elif dialect == "postgresql":
        op.execute("CREATE INDEX ix_memories_text_fts ON memories "
                   "USING GIN (to_tsvector('english', text))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in _FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS memories_fts")
    for table in ("athena_state", "facts", "episodes", "embeddings", "memories"):
        op.drop_table(table)
