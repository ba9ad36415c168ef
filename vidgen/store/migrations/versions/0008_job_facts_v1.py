"""jobs.extras holds JobFacts version 1 (core/facts.py)

Revision ID: 0008
Revises: 0007

Before, ``extras`` was an untyped dict: ``image_sources`` (now ``sources``), ``apiframe_model``
(dropped: the apiframe dialect names a model by the catalog's alias for it), and keys written by
one place and read by another. Each row is rewritten to the versioned form, in Python, so that
SQLite and PostgreSQL get the same result; rows are read and written in batches by primary key.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 500
_V1_KEYS = ("request_id", "base_url", "sources", "images", "webhook")


def _jobs() -> sa.Table:
    return sa.table("jobs", sa.column("id", sa.String), sa.column("extras", sa.JSON))


def _to_v1(old: dict[str, Any]) -> dict[str, Any]:
    new = {key: old[key] for key in _V1_KEYS if key in old}
    if "image_sources" in old:
        new["sources"] = old["image_sources"]
    hook = new.get("webhook")
    if isinstance(hook, dict):
        new["webhook"] = {"url": hook.get("url"), "events": list(hook.get("events", ()))}
    return {"v": 1, **new}


def _from_v1(new: dict[str, Any]) -> dict[str, Any]:
    old = {key: value for key, value in new.items() if key not in ("v", "sources")}
    if "sources" in new:
        old["image_sources"] = new["sources"]
    return old


def _rewrite(convert: Any) -> None:
    jobs = _jobs()
    bind = op.get_bind()
    last = ""
    while True:
        rows = bind.execute(
            sa.select(jobs.c.id, jobs.c.extras)
            .where(jobs.c.id > last)
            .order_by(jobs.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            bind.execute(
                sa.update(jobs).where(jobs.c.id == row.id).values(extras=convert(row.extras or {}))
            )
        last = rows[-1].id


def upgrade() -> None:
    _rewrite(_to_v1)


def downgrade() -> None:
    _rewrite(_from_v1)
