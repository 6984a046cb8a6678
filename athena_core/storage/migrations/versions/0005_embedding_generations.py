"""A second vector table, so that a reindex never touches the vectors in use.

Vectors of even embedder generations live in ``embeddings`` (every store so far is
generation 0), those of odd ones in ``embeddings_alt``; ``athena_state`` names the
current generation (``embedder_generation``, absent means 0) and a reindex under way
(``reindex_target``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embeddings_alt",
        sa.Column("memory_pk", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["memory_pk"], ["memories.pk"], ondelete="CASCADE",
                                name=op.f("fk_embeddings_alt_memory_pk_memories")),
        sa.PrimaryKeyConstraint("memory_pk", name=op.f("pk_embeddings_alt")),
    )


def downgrade() -> None:
    op.drop_table("embeddings_alt")
