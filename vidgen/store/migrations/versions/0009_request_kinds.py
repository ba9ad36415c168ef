"""Request kinds: jobs.kind, and job_inputs that hold videos and more positions

Revision ID: 0009
Revises: 0008

Jobs stored before kinds existed were image to video when they had a first image and text to
video otherwise (their facts list their images); that is what they are given here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(32), nullable=False, server_default="image_to_video")
        )
    jobs = sa.table("jobs", sa.column("id", sa.String), sa.column("kind", sa.String))
    inputs = sa.table("job_inputs", sa.column("job_id", sa.String), sa.column("position"))
    with_first = sa.select(inputs.c.job_id).where(inputs.c.position == "first")
    op.execute(sa.update(jobs).where(jobs.c.id.not_in(with_first)).values(kind="text_to_video"))
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(32), server_default=None)
    with op.batch_alter_table("job_inputs") as batch_op:
        batch_op.alter_column("position", existing_type=sa.String(8), type_=sa.String(16))
        batch_op.add_column(sa.Column("fps", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("frame_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duration", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_inputs") as batch_op:
        batch_op.drop_column("duration")
        batch_op.drop_column("frame_count")
        batch_op.drop_column("fps")
        batch_op.alter_column("position", existing_type=sa.String(16), type_=sa.String(8))
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("kind")
