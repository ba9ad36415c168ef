"""jobs.turn: claims interleave keys (round-robin by turn within a priority)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("turn", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.drop_index("ix_jobs_claim")
        batch_op.create_index(
            "ix_jobs_claim",
            ["status", sa.text("priority DESC"), "turn", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_jobs_key_turn", ["key_id", "status", "priority", "turn"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_key_turn")
        batch_op.drop_index("ix_jobs_claim")
        batch_op.create_index("ix_jobs_claim", ["status", "priority", "created_at"], unique=False)
        batch_op.drop_column("turn")
