"""Usage over a window for every key (an admin's ``GET /v1/usage``): indexes on the jobs' and
the credit ledger's created_at, which the sums filter on (and on the jobs' status and
created_at, for the completed ones' median); the existing ones lead with key_id, so without a
key the report read both tables whole

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: (index, table, columns)
INDEXES = (
    ("ix_jobs_created", "jobs", ["created_at"]),
    ("ix_jobs_status_created", "jobs", ["status", "created_at"]),
    ("ix_credit_ledger_created", "credit_ledger", ["created_at"]),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns)
        return
    # Servers keep running while an operator upgrades: a plain CREATE INDEX holds a SHARE lock
    # on jobs for the whole build, which stops every create and claim. CONCURRENTLY takes SHARE
    # UPDATE EXCLUSIVE, which writes pass, and cannot run in a transaction. A build that fails
    # midway (or is cancelled) leaves an INVALID index of that name, which IF NOT EXISTS would
    # take for done: it is dropped and built again, so running the upgrade again repairs it.
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            invalid = op.get_bind().execute(
                text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
                {"name": name},
            )
            if invalid.scalar():
                op.drop_index(name, table_name=table, postgresql_concurrently=True)
            op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        for name, table, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
