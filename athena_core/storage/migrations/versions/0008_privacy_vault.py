"""Privacy at rest: the wrapped keys of the key hierarchy (``privacy_keys``) and the
vault of sensitive values, each stored once as AES-256-GCM ciphertext and found by its
keyed hash (``sensitive_values``; ``athena_core.privacy``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from athena_core.storage.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_keys",
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("master_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("purpose", "version", name=op.f("pk_privacy_keys")),
    )
    op.create_table(
        "sensitive_values",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("token", sa.String(96), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_sensitive_values")),
        sa.UniqueConstraint("scope", "digest", name="uq_sensitive_values_digest"),
        sa.UniqueConstraint("scope", "token", name="uq_sensitive_values_token"),
    )
    op.create_index(op.f("ix_sensitive_values_key_version"), "sensitive_values",
                    ["key_version"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sensitive_values_key_version"), table_name="sensitive_values")
    op.drop_table("sensitive_values")
    op.drop_table("privacy_keys")
