"""Prospective memory: intentions (``prospective_items``), their dependencies, their time,
event and context triggers with the cues that find them, and every fire
(``prospective_runs``; ``athena_core.prospective``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from athena_core.storage.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prospective_items",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("parent_pk", sa.Integer(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["parent_pk"], ["prospective_items.pk"], ondelete="SET NULL",
                                name=op.f("fk_prospective_items_parent_pk_prospective_items")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_prospective_items")),
        sa.UniqueConstraint("id", name=op.f("uq_prospective_items_id")),
    )
    op.create_index("ix_prospective_items_scope_status", "prospective_items",
                    ["scope", "status"])
    op.create_index(op.f("ix_prospective_items_parent_pk"), "prospective_items", ["parent_pk"])
    op.create_index(op.f("ix_prospective_items_overdue_at"), "prospective_items",
                    ["overdue_at"])
    op.create_table(
        "prospective_dependencies",
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("depends_on_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_pk"], ["prospective_items.pk"], ondelete="CASCADE",
                                name=op.f("fk_prospective_dependencies_item_pk_prospective_items")),
        sa.ForeignKeyConstraint(
            ["depends_on_pk"], ["prospective_items.pk"], ondelete="CASCADE",
            name=op.f("fk_prospective_dependencies_depends_on_pk_prospective_items")),
        sa.PrimaryKeyConstraint("item_pk", "depends_on_pk",
                                name=op.f("pk_prospective_dependencies")),
    )
    op.create_index(op.f("ix_prospective_dependencies_depends_on_pk"),
                    "prospective_dependencies", ["depends_on_pk"])
    op.create_table(
        "prospective_triggers",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("misfire", sa.String(16), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("next_fire", UTCDateTime(), nullable=True),
        sa.Column("waiting", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("once", sa.Boolean(), nullable=False),
        sa.Column("fires", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_pk"], ["prospective_items.pk"], ondelete="CASCADE",
                                name=op.f("fk_prospective_triggers_item_pk_prospective_items")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_prospective_triggers")),
        sa.UniqueConstraint("id", name=op.f("uq_prospective_triggers_id")),
    )
    op.create_index("ix_prospective_triggers_due", "prospective_triggers",
                    ["waiting", "next_fire"])
    op.create_index("ix_prospective_triggers_scope_due", "prospective_triggers",
                    ["scope", "waiting", "next_fire"])
    op.create_index(op.f("ix_prospective_triggers_item_pk"), "prospective_triggers",
                    ["item_pk"])
    op.create_table(
        "prospective_cues",
        sa.Column("trigger_pk", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_pk"], ["prospective_triggers.pk"], ondelete="CASCADE",
            name=op.f("fk_prospective_cues_trigger_pk_prospective_triggers")),
        sa.PrimaryKeyConstraint("trigger_pk", "key", name=op.f("pk_prospective_cues")),
    )
    op.create_index("ix_prospective_cues_scope_key", "prospective_cues", ["scope", "key"])
    op.create_table(
        "prospective_runs",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("trigger_pk", sa.Integer(), nullable=True),
        sa.Column("occurrence", sa.String(128), nullable=False),
        sa.Column("scheduled_for", UTCDateTime(), nullable=True),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("instants", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("delivered_to", sa.String(255), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["item_pk"], ["prospective_items.pk"], ondelete="CASCADE",
                                name=op.f("fk_prospective_runs_item_pk_prospective_items")),
        sa.ForeignKeyConstraint(
            ["trigger_pk"], ["prospective_triggers.pk"], ondelete="CASCADE",
            name=op.f("fk_prospective_runs_trigger_pk_prospective_triggers")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_prospective_runs")),
        sa.UniqueConstraint("id", name=op.f("uq_prospective_runs_id")),
        sa.UniqueConstraint("item_pk", "occurrence", name="uq_prospective_runs_occurrence"),
    )
    op.create_index("ix_prospective_runs_scope_delivered", "prospective_runs",
                    ["scope", "delivered_at"])
    op.create_index(op.f("ix_prospective_runs_item_pk"), "prospective_runs", ["item_pk"])
    op.create_index(op.f("ix_prospective_runs_trigger_pk"), "prospective_runs",
                    ["trigger_pk"])


def downgrade() -> None:
    for table in ("prospective_runs", "prospective_cues", "prospective_triggers",
                  "prospective_dependencies", "prospective_items"):
        op.drop_table(table)
