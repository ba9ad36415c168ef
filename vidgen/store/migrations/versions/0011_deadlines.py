"""Deadlines and queue estimates: jobs.deadline_at (Cancel-After), and the indexes that find
overdue jobs and a model's recent completions

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_jobs_deadline", "jobs", ["status", "deadline_at"])
    op.create_index("ix_jobs_model_finished", "jobs", ["model", "status", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_model_finished", table_name="jobs")
    op.drop_index("ix_jobs_deadline", table_name="jobs")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("deadline_at")
