"""Key roles and per-key limits: api_keys.role, rate_limit_per_minute, monthly_credit_limit;
credit_ledger.note

Revision ID: 0010
Revises: 0009

Every key stored before roles existed is a client key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(8), nullable=False, server_default="client")
        )
        batch_op.add_column(sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("monthly_credit_limit", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("credit_ledger") as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credit_ledger") as batch_op:
        batch_op.drop_column("note")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("monthly_credit_limit")
        batch_op.drop_column("rate_limit_per_minute")
        batch_op.drop_column("role")
