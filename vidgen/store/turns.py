"""Fair claim order: keys take turns, so one key's backlog cannot starve another key.

Every job gets a *turn* when it is stored: one more than the key's latest active job (queued or
running) at the same priority, but never less than the *current turn*, the lowest turn still
queued at that priority. Claims then take jobs by ``priority DESC, turn, created_at``.

A key that posts 1000 jobs at once gets turns t, t+1, …, t+999. A key that then posts one job gets
the current turn, so it is claimed after at most one job of each other key that is waiting in the
same turn: round-robin over keys, however deep one key's backlog is. A key that comes back after
a pause joins the current turn; it does not inherit credit for the time it was idle, and a key
with jobs running queues its next one after them.

Why this design:

- **One indexed statement.** The order is a plain column order, so a claim reads the first
  unlocked entry of ``ix_jobs_claim (status, priority DESC, turn, created_at)`` and stops; it
  neither sorts the queue nor counts anything per queued row. Alternatives that order by "how
  many jobs this key runs now" must compute that for every queued row at every claim, and still
  starve the small key when there is one worker slot: the big key's count drops back to zero the
  moment its job ends, and its older jobs win again.
- **No hot row.** A per-key or global counter table would serialise every create (or every
  claim) on one row's lock. The turn is computed from two index probes in the create's own
  transaction (``ix_jobs_key_turn`` and ``ix_jobs_claim``).
- **Races only make ties.** Two creates of one key that run at the same instant on PostgreSQL may
  get the same turn; ``created_at`` breaks the tie. Nothing can be lost or reordered across keys.
- Retried, released and requeued jobs keep their turn, so they go back near the head of the queue.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, bindparam, select

from vidgen.core.models import Status
from vidgen.store.tables import jobs

#: The claim order; ``ix_jobs_claim`` is this order under ``status = 'queued'``.
CLAIM_ORDER = (jobs.c.priority.desc(), jobs.c.turn, jobs.c.created_at)

_ACTIVE = (Status.QUEUED.value, Status.GENERATING.value)


def _probes() -> tuple[Any, ...]:
    # Each value is read as the first entry of an index range (ORDER BY … LIMIT 1), not as
    # max()/min(): PostgreSQL turns an aggregate into that probe only when its statistics say
    # the range is large, so on a table it has not analysed yet (a new deployment, a burst)
    # it counted through the whole range instead, and every create cost O(backlog). For the
    # same reason, one probe per active status rather than one over ``status IN (…)``.
    key_id = bindparam("key_id", type_=String())
    priority = bindparam("priority", type_=Integer())
    latest_of_key = [
        select(jobs.c.turn)
        .where(jobs.c.key_id == key_id, jobs.c.status == status, jobs.c.priority == priority)
        .order_by(jobs.c.turn.desc())
        .limit(1)
        .scalar_subquery()
        .label(f"latest_{status}")
        for status in _ACTIVE
    ]
    current = (
        select(jobs.c.turn)
        .where(jobs.c.status == Status.QUEUED.value, jobs.c.priority == priority)
        .order_by(jobs.c.turn)
        .limit(1)
        .scalar_subquery()
        .label("current_turn")
    )
    return (*latest_of_key, current)


#: What a new job's turn is computed from, as columns to select (parameters ``key_id`` and
#: ``priority``): the key's latest queued and running turns, and the current turn.
TURN_PROBES = _probes()


def turn_from(row: Any) -> int:
    """The turn of a job that the key stores now, from a row that selected ``TURN_PROBES``
    (see the module docstring)."""
    mine = (getattr(row, f"latest_{status}") for status in _ACTIVE)
    latest = max((int(t) for t in mine if t is not None), default=-1)
    lowest = row.current_turn
    return max(latest, -1 if lowest is None else int(lowest) - 1) + 1
