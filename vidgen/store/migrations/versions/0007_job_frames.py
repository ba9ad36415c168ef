"""jobs.frames: the frame count a job renders, fixed at submit from its model's frame rule

Revision ID: 0007
Revises: 0006

Before, the worker computed duration × fps while the catalog rounded to each model's frame
step (Wan takes 4k+1 frames), so the two could disagree. Jobs stored before this revision were
rendered with duration × fps, which is what they keep.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("frames", sa.Integer(), nullable=True))
    op.execute("UPDATE jobs SET frames = duration * fps")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.alter_column("frames", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("frames")
