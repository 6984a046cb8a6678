"""The procedure catalog: one row per procedure (``procedures``) and one per version
(``procedure_versions``). The code itself lives in the procedures' git repository; these
rows index it (``athena_core.procedures.catalog``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

from athena_core.storage.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "procedures",
        sa.Column("id", sa.String(129), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("active_commit", sa.String(40), nullable=True),
        sa.Column("latest_commit", sa.String(40), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
    )
    op.create_index(op.f("ix_procedures_status"), "procedures", ["status"])
    op.create_table(
        "procedure_versions",
        sa.Column("procedure_id", sa.String(129), nullable=False),
        sa.Column("commit_id", sa.String(40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["procedure_id"], ["procedures.id"], ondelete="CASCADE",
                                name=op.f("fk_procedure_versions_procedure_id_procedures")),
        sa.PrimaryKeyConstraint("procedure_id", "commit_id",
                                name=op.f("pk_procedure_versions")),
    )


def downgrade() -> None:
    op.execute("DELETE FROM athena_state WHERE key = 'procedures_head'")
    op.drop_table("procedure_versions")
    op.drop_index(op.f("ix_procedures_status"), table_name="procedures")
    op.drop_table("procedures")
