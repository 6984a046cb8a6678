"""Memories changed per index epoch, so other processes catch up without a rebuild.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vector_changes",
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("memory_pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("epoch", "memory_pk", name=op.f("pk_vector_changes")),
    )


def downgrade() -> None:
    op.drop_table("vector_changes")
