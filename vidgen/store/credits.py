"""Credits move with the state changes that cause them, inside the same transaction.

A job is charged when it is stored (``take_credits``, before the job row commits) and refunded
when it ends failed or cancelled (``finish_and_refund``). The ending ``UPDATE … WHERE <still
active>`` is the guard: a job ends, and is refunded, at most once; the ledger's unique
(job_id, reason) is the database's backstop for the same rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from vidgen.core.facts import JobFacts
from vidgen.core.models import Status
from vidgen.errors import InsufficientCredits
from vidgen.store import queue_sql
from vidgen.store.tables import api_keys, credit_ledger
from vidgen.store.webhooks import enqueue_event

__all__ = ["BALANCE", "CANCELLED", "finish_and_refund", "refund", "take_credits"]

CANCELLED = ("Cancelled", "The generation was cancelled.")


def finish_and_refund(
    conn: Connection, condition: Any, status: Status, name: str, message: str, *, now: datetime
) -> bool:
    """End the jobs matching ``condition`` (at most one) and refund them, in the caller's
    transaction (at ``now``, the store's clock). The status change is the guard: a job ends,
    and is refunded, once."""
    row = conn.execute(queue_sql.end(condition, status, name, message, now)).first()
    if row is None:
        return False
    refund(conn, row.key_id, row.id, row.credits, now)
    enqueue_event(
        conn,
        job_id=row.id,
        key_id=row.key_id,
        facts=JobFacts.from_json(row.extras),
        event="cancelled" if status is Status.CANCELLED else "failed",
        now=now,
    )
    return True


#: The balance of the key being charged, as a column to select (parameter ``key_id``).
BALANCE = (
    select(api_keys.c.credits)
    .where(api_keys.c.id == bindparam("key_id", type_=String()))
    .scalar_subquery()
    .label("balance")
)
_CHARGE = (
    update(api_keys)
    .where(
        api_keys.c.id == bindparam("key_id", type_=String()),
        api_keys.c.credits >= bindparam("amount", type_=BigInteger()),
    )
    .values(credits=api_keys.c.credits - bindparam("amount", type_=BigInteger()))
)


def take_credits(conn: Connection, key_id: str, amount: int, balance: int | None) -> None:
    """Take ``amount`` from the key, whose balance this transaction read as ``balance``
    (``BALANCE``): unlimited keys (NULL) pass without a write; a limited key is charged by an
    update that is itself the guard, so concurrent charges can never take it below zero."""
    if balance is None:
        return
    if conn.execute(_CHARGE, {"key_id": key_id, "amount": amount}).rowcount == 1:
        return
    current = conn.execute(select(BALANCE), {"key_id": key_id}).scalar()
    if current is not None:  # None: made unlimited meanwhile
        raise InsufficientCredits(required=amount, available=int(current))


def refund(conn: Connection, key_id: str, job_id: str, amount: int, now: datetime) -> None:
    already = conn.execute(
        select(credit_ledger.c.id).where(
            credit_ledger.c.job_id == job_id, credit_ledger.c.reason == "refund"
        )
    ).first()
    if already is not None:
        return
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.credits.is_not(None))
        .values(credits=api_keys.c.credits + amount)
    )
    conn.execute(
        insert(credit_ledger).values(
            key_id=key_id, job_id=job_id, delta=amount, reason="refund", created_at=now
        )
    )
