"""The knowledge graph (``athena_core.graph``): entities and their aliases, declared
relation types and cascade rules, bi-temporal facts (valid time and record time), the
memories that asserted them and the memories that mention each entity, and cascade marks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from athena_core.storage.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graph_cascades",
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("trigger", sa.String(length=128), nullable=False),
        sa.Column("dependent", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "trigger", "dependent", name=op.f("pk_graph_cascades")),
    )
    op.create_table(
        "graph_entities",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("extracted", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_graph_entities")),
        sa.UniqueConstraint("scope", "key", name="uq_graph_entities_key"),
    )
    op.create_table(
        "graph_types",
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("functional", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name", name=op.f("pk_graph_types")),
    )
    op.create_table(
        "graph_aliases",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("entity_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_pk"],
            ["graph_entities.pk"],
            name=op.f("fk_graph_aliases_entity_pk_graph_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_graph_aliases")),
        sa.UniqueConstraint("scope", "key", name="uq_graph_aliases_key"),
    )
    op.create_index(
        op.f("ix_graph_aliases_entity_pk"), "graph_aliases", ["entity_pk"], unique=False
    )
    op.create_table(
        "graph_facts",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("subject_pk", sa.Integer(), nullable=False),
        sa.Column("predicate", sa.String(length=128), nullable=False),
        sa.Column("object_pk", sa.Integer(), nullable=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_to", UTCDateTime(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("retracted_at", UTCDateTime(), nullable=True),
        sa.Column("retracted_by", sa.String(length=26), nullable=True),
        sa.Column("derived_from", sa.String(length=26), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["object_pk"],
            ["graph_entities.pk"],
            name=op.f("fk_graph_facts_object_pk_graph_entities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_pk"],
            ["graph_entities.pk"],
            name=op.f("fk_graph_facts_subject_pk_graph_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_graph_facts")),
        sa.UniqueConstraint("id", name=op.f("uq_graph_facts_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_graph_facts_object", "graph_facts", ["object_pk"], unique=False)
    op.create_index(
        "ix_graph_facts_slot",
        "graph_facts",
        ["subject_pk", "predicate", "valid_from"],
        unique=False,
    )
    op.create_table(
        "graph_mentions",
        sa.Column("memory_pk", sa.Integer(), nullable=False),
        sa.Column("entity_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_pk"],
            ["graph_entities.pk"],
            name=op.f("fk_graph_mentions_entity_pk_graph_entities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["memory_pk"],
            ["memories.pk"],
            name=op.f("fk_graph_mentions_memory_pk_memories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("memory_pk", "entity_pk", name=op.f("pk_graph_mentions")),
    )
    op.create_index(
        op.f("ix_graph_mentions_entity_pk"), "graph_mentions", ["entity_pk"], unique=False
    )
    op.create_table(
        "graph_fact_sources",
        sa.Column("fact_pk", sa.Integer(), nullable=False),
        sa.Column("memory_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fact_pk"],
            ["graph_facts.pk"],
            name=op.f("fk_graph_fact_sources_fact_pk_graph_facts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["memory_pk"],
            ["memories.pk"],
            name=op.f("fk_graph_fact_sources_memory_pk_memories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fact_pk", "memory_pk", name=op.f("pk_graph_fact_sources")),
    )
    op.create_index(
        op.f("ix_graph_fact_sources_memory_pk"), "graph_fact_sources", ["memory_pk"], unique=False
    )
    op.create_table(
        "graph_stale",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fact_pk", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=26), nullable=False),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fact_pk"],
            ["graph_facts.pk"],
            name=op.f("fk_graph_stale_fact_pk_graph_facts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_graph_stale")),
    )
    op.create_index(op.f("ix_graph_stale_fact_pk"), "graph_stale", ["fact_pk"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_graph_stale_fact_pk"), table_name="graph_stale")
    op.drop_table("graph_stale")
    op.drop_index(op.f("ix_graph_fact_sources_memory_pk"), table_name="graph_fact_sources")
    op.drop_table("graph_fact_sources")
    op.drop_index(op.f("ix_graph_mentions_entity_pk"), table_name="graph_mentions")
    op.drop_table("graph_mentions")
    op.drop_index("ix_graph_facts_slot", table_name="graph_facts")
    op.drop_index("ix_graph_facts_object", table_name="graph_facts")
    op.drop_table("graph_facts")
    op.drop_index(op.f("ix_graph_aliases_entity_pk"), table_name="graph_aliases")
    op.drop_table("graph_aliases")
    op.drop_table("graph_types")
    op.drop_table("graph_entities")
    op.drop_table("graph_cascades")
