"""The ``bookmarks`` table.

Revision ID: b0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "b0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bookmarks",
        sa.Column("memory_pk", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["memory_pk"], ["memories.pk"], ondelete="CASCADE",
                                name="fk_bookmarks_memory_pk_memories"),
        sa.PrimaryKeyConstraint("memory_pk", name="pk_bookmarks"),
    )
    op.create_index("ix_bookmarks_domain", "bookmarks", ["domain"])
