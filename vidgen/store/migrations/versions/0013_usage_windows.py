"""Usage over a window for every key (an admin's ``GET /v1/usage``): indexes on the jobs' and
the credit ledger's created_at, which the sums filter on (and on the jobs' status and
created_at, for the completed ones' median); the existing ones lead with key_id, so without a
key the report read both tables whole

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_created", "jobs", ["created_at"])
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.create_index("ix_credit_ledger_created", "credit_ledger", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_credit_ledger_created", table_name="credit_ledger")
    op.drop_index("ix_jobs_status_created", table_name="jobs")
    op.drop_index("ix_jobs_created", table_name="jobs")
