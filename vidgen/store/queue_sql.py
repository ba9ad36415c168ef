"""The queue's SQL in one place, to be read top to bottom: every statement that moves a job
through the ``jobs`` table, each with the reason for its shape. ``store.jobs`` (the workers'
side) and ``store.generations`` (the clients' side) run them; nothing here runs anything.

A job moves queued → generating → completed | failed | cancelled:

1. **Fair order.** A job is stored with a *turn*, so that keys take turns (the turn rule).
2. **Stored and announced.** The insert that makes it claimable carries its NOTIFY.
3. **The claim.** One statement takes the next job in claim order, skipping keys at their
   ``max_concurrency``, and sets a lease; a limited key's claim is checked again after it commits.
4. **The lease.** Heartbeats renew it; every write of a running job is fenced on still holding it.
5. **The endings.** The completion, the ending that refunds (failed, cancelled), a retry, a hand
   back, and the reaper's requeue of expired leases.

Statements on the hot path (the claim, the heartbeat, the completion, the insert) are built once:
building and cache-keying a statement costs SQLAlchemy more CPU than the database spends running
it. The rare ones are built per call, from the functions below.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from vidgen.core.models import Status
from vidgen.store.rows import GENERATION_COLUMNS
from vidgen.store.tables import UTCDateTime, api_keys, job_inputs, jobs

__all__ = [
    "CHANNEL",
    "CLAIM_ORDER",
    "COMPLETE",
    "GIVEN_BACK",
    "HEARTBEAT",
    "INPUTS",
    "INSERT_JOB",
    "INSERT_JOB_NOTIFY",
    "OWNED",
    "QUEUE_DEPTH",
    "RUNNING",
    "TURN_PROBES",
    "active",
    "ahead_of",
    "announcement",
    "cancel_requested",
    "claim",
    "due_for_deadline",
    "due_for_reaping",
    "end",
    "expired_job",
    "expired_lease",
    "flag_cancel",
    "give_back",
    "job_announcement",
    "lock_key",
    "overdue",
    "owned",
    "poke",
    "recent_runs",
    "release",
    "requeue",
    "retry",
    "running_of_key",
    "turn_from",
    "update_owned",
]

_ACTIVE = (Status.QUEUED.value, Status.GENERATING.value)
_NOW = bindparam("now", type_=UTCDateTime())


# -- 1. Fair order: keys take turns ------------------------------------------------------------
#
# Every job gets a *turn* when it is stored: one more than the key's latest active job (queued or
# running) at the same priority, but never less than the *current turn*, the lowest turn still
# queued at that priority. Claims then take jobs by ``priority DESC, turn, created_at``.
#
# A key that posts 1000 jobs at once gets turns t, t+1, …, t+999. A key that then posts one job
# gets the current turn, so it is claimed after at most one job of each other key that is waiting
# in the same turn: round-robin over keys, however deep one key's backlog is. A key that comes
# back after a pause joins the current turn; it does not inherit credit for the time it was idle,
# and a key with jobs running queues its next one after them.
#
# Why this design:
#
# - **One indexed statement.** The order is a plain column order, so a claim reads the first
#   unlocked entry of ``ix_jobs_claim (status, priority DESC, turn, created_at)`` and stops; it
#   neither sorts the queue nor counts anything per queued row. Alternatives that order by "how
#   many jobs this key runs now" must compute that for every queued row at every claim, and still
#   starve the small key when there is one worker slot: the big key's count drops back to zero
#   the moment its job ends, and its older jobs win again.
# - **No hot row.** A per-key or global counter table would serialise every create (or every
#   claim) on one row's lock. The turn is computed from two index probes in the create's own
#   transaction (``ix_jobs_key_turn`` and ``ix_jobs_claim``).
# - **Races only make ties.** Two creates of one key that run at the same instant on PostgreSQL
#   may get the same turn; ``created_at`` breaks the tie. Nothing can be lost or reordered across
#   keys.
# - Retried, released and requeued jobs keep their turn, so they go back near the head of the
#   queue.

#: The claim order; ``ix_jobs_claim`` is this order under ``status = 'queued'``.
CLAIM_ORDER = (jobs.c.priority.desc(), jobs.c.turn, jobs.c.created_at)


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
    (the turn rule, above)."""
    mine = (getattr(row, f"latest_{status}") for status in _ACTIVE)
    latest = max((int(t) for t in mine if t is not None), default=-1)
    lowest = row.current_turn
    return max(latest, -1 if lowest is None else int(lowest) - 1) + 1


# -- 2. Stored and announced -------------------------------------------------------------------
#
# Wake-ups only cut latency: a worker that misses one still finds the job at its next poll
# (``store.notify``). On PostgreSQL a NOTIFY is queued in the transaction that makes a job
# claimable, and the server delivers it when (and only if) that transaction commits, so no
# worker wakes for a row it cannot see yet.

#: The PostgreSQL channel every vidgen process LISTENs on; the payload is "<model> <job id>".
CHANNEL = "vidgen_jobs"


def job_announcement(model: Any, job_id: Any) -> Any:
    """The NOTIFY for a job, as a SQL expression (PostgreSQL only), for statements that make a
    job claimable and can carry it (``INSERT … RETURNING``), saving a round trip."""
    return func.pg_notify(CHANNEL, model.concat(" ").concat(job_id))


def announcement(model: str, job_id: str) -> Any:
    """The NOTIFY for a job as a statement of its own (PostgreSQL only), for the writes that
    cannot carry it: a hand back, a requeue."""
    return select(job_announcement(literal(model, String()), literal(job_id, String())))


INSERT_JOB = insert(jobs).returning(*GENERATION_COLUMNS)
#: On PostgreSQL the insert also queues the job's NOTIFY, which the server delivers only if the
#: transaction commits: one round trip fewer than a separate SELECT.
INSERT_JOB_NOTIFY = insert(jobs).returning(
    *GENERATION_COLUMNS, job_announcement(jobs.c.model, jobs.c.id).label("announced")
)


# -- 3. The claim ------------------------------------------------------------------------------

_RUNNING = aliased(jobs)
#: The claimed job's key's concurrency limit (NULL: none), and how many jobs that key runs.
_KEY_LIMIT = (
    select(api_keys.c.max_concurrency).where(api_keys.c.id == jobs.c.key_id).scalar_subquery()
)
_KEY_RUNNING = (
    select(func.count())
    .select_from(_RUNNING)
    .where(_RUNNING.c.key_id == jobs.c.key_id, _RUNNING.c.status == Status.GENERATING.value)
    .scalar_subquery()
)


@functools.cache
def claim(by_model: bool, by_engine: bool) -> Any:
    """The claim, built once per filter shape: building and cache-keying a statement of this
    size costs more CPU than running it (see ``JobStore.claim_next``)."""
    now = _NOW
    candidate = (
        select(jobs.c.id)
        .where(
            jobs.c.status == Status.QUEUED.value,
            or_(jobs.c.run_after.is_(None), jobs.c.run_after <= now),
        )
        .order_by(*CLAIM_ORDER)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    # A key with max_concurrency runs at most that many jobs at once; the rest wait (and
    # read as THROTTLED in the Runway dialect). The limit is read first so that the count
    # is only made for limited keys.
    candidate = candidate.where(or_(_KEY_LIMIT.is_(None), _KEY_RUNNING < _KEY_LIMIT))
    if by_model:
        candidate = candidate.where(jobs.c.model.in_(bindparam("models", expanding=True)))
    if by_engine:
        candidate = candidate.where(jobs.c.engine.in_(bindparam("engines", expanding=True)))
    # The row is found by its primary key alone. The candidate is still queued: PostgreSQL
    # locked it (FOR UPDATE re-checks the WHERE on the latest row version), and SQLite runs
    # the whole statement under its single writer. A second ``status = 'queued'`` here is
    # not only redundant: on a table without fresh statistics (a new deployment, a burst),
    # PostgreSQL may then read the row through ix_jobs_claim and filter the whole queue for
    # its id, which made each claim O(queue length): 3 ms at 750 queued jobs.
    return (
        update(jobs)
        .where(jobs.c.id == candidate.scalar_subquery())
        .values(
            status=Status.GENERATING.value,
            lease_owner=bindparam("worker", type_=String()),
            lease_expires_at=bindparam("expires", type_=UTCDateTime()),
            attempts=jobs.c.attempts + 1,
            started_at=func.coalesce(jobs.c.started_at, now),
            updated_at=now,
            run_after=None,
        )
        .returning(*jobs.c, _KEY_LIMIT.label("key_limit"))
    )


# On PostgreSQL, two workers can claim jobs of one key at the same instant, each counting the
# key's running jobs before the other's claim is committed, and so run one job more than the
# key's max_concurrency. A claim of a *limited* key is therefore checked after it commits and
# before its job starts (``store.jobs``): under the key's row lock, which orders the checks of
# concurrent claims, the key's running jobs are counted again, all claims committed; over the
# limit, the claim hands its job straight back as it found it. SQLite's single writer cannot
# race this way.


def lock_key(key_id: str) -> Any:
    return select(api_keys.c.id).where(api_keys.c.id == key_id).with_for_update()


def running_of_key(key_id: str) -> Any:
    return select(func.count()).where(
        jobs.c.key_id == key_id, jobs.c.status == Status.GENERATING.value
    )


# -- 4. The lease ------------------------------------------------------------------------------


def owned(job_id: Any, worker: Any) -> Any:
    """This worker still holds the job's lease (every write of a running job is fenced on
    it): for one job and worker, or for bound parameters (``OWNED``)."""
    return and_(
        jobs.c.id == job_id, jobs.c.lease_owner == worker, jobs.c.status == Status.GENERATING.value
    )


#: ``owned`` for the statements built once, run with ``job_id`` and ``worker`` parameters.
OWNED = owned(bindparam("job_id", type_=String()), bindparam("worker", type_=String()))
_PROGRESS = bindparam("progress", type_=Float())
#: Renews the lease, records progress and returns whether a cancel was asked for.
HEARTBEAT = (
    update(jobs)
    .where(OWNED)
    .values(
        lease_expires_at=bindparam("expires", type_=UTCDateTime()),
        # Progress only moves forward (max() is not portable to PostgreSQL, CASE is).
        progress=case((jobs.c.progress > _PROGRESS, jobs.c.progress), else_=_PROGRESS),
        waiting=bindparam("waiting", type_=Boolean()),
        updated_at=_NOW,
    )
    .returning(jobs.c.cancel_requested, jobs.c.pokes)
)


def poke(job_id: str) -> Any:
    """A provider's webhook for an active job: one more poke, which its worker's heartbeat
    reads (the API and the worker may be different processes)."""
    return (
        update(jobs)
        .where(
            jobs.c.id == job_id,
            jobs.c.status.in_([Status.QUEUED.value, Status.GENERATING.value]),
        )
        .values(pokes=jobs.c.pokes + 1)
    )


def update_owned(**values: Any) -> Any:
    """A write to a running job (its engine's resume state), fenced on the lease."""
    return update(jobs).where(OWNED).values(**values)


#: A running job's input images.
INPUTS = select(job_inputs).where(job_inputs.c.job_id == bindparam("job_id", type_=String()))


def flag_cancel(job: Any, now: datetime) -> Any:
    """A cancel asked for while the job runs (``job``: a condition on the client's own job): a
    flag that its worker's next heartbeat reads, and that every ending below honours."""
    return (
        update(jobs)
        .where(job, jobs.c.status == Status.GENERATING.value)
        .values(cancel_requested=True, updated_at=now)
    )


# -- 5. The endings ----------------------------------------------------------------------------

#: A cancel asked for before the completion commits wins over it (see ``JobStore.complete``).
COMPLETE = (
    update(jobs)
    .where(OWNED, ~jobs.c.cancel_requested)
    .values(
        status=Status.COMPLETED.value,
        waiting=False,
        progress=1.0,
        **{
            name: bindparam(name, type_=jobs.c[name].type)
            for name in (
                "output_key",
                "output_media_type",
                "output_bytes",
                "output_frames",
                "output_fps",
                "output_width",
                "output_height",
                "thumbnail_key",
            )
        },
        lease_owner=None,
        lease_expires_at=None,
        finished_at=_NOW,
        updated_at=_NOW,
    )
    .returning(jobs.c.key_id, jobs.c.extras)
)


def end(condition: Any, status: Status, name: str, message: str, now: datetime) -> Any:
    """End the job matching ``condition`` (at most one) failed or cancelled. The status change
    is the guard: a job ends, and is refunded (``store.credits.finish_and_refund``), once."""
    return (
        update(jobs)
        .where(condition)
        .values(
            status=status.value,
            waiting=False,
            error_name=name,
            error_message=message,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
        .returning(jobs.c.id, jobs.c.key_id, jobs.c.credits, jobs.c.extras)
    )


def active(job_id: str) -> Any:
    """The job, while it is queued or running, whoever holds it (an ending without a lease)."""
    return and_(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE))


def cancel_requested(job_id: str, worker: str) -> Any:
    """This worker's job, if a cancel was asked for: it then ends cancelled, whatever the
    worker meant to write."""
    return and_(owned(job_id, worker), jobs.c.cancel_requested)


def retry(job_id: str, worker: str, run_after: datetime, now: datetime) -> Any:
    """Back to the queue after a transient failure, not before ``run_after``; the attempt
    counts. Not when a cancel was asked for: that ends it instead."""
    return (
        update(jobs)
        .where(owned(job_id, worker), ~jobs.c.cancel_requested)
        .values(
            status=Status.QUEUED.value,
            waiting=False,
            lease_owner=None,
            lease_expires_at=None,
            run_after=run_after,
            updated_at=now,
        )
    )


#: A job handed back to the queue as it was claimed: the attempt does not count.
GIVEN_BACK = {
    "status": Status.QUEUED.value,
    "waiting": False,
    "lease_owner": None,
    "lease_expires_at": None,
    "attempts": jobs.c.attempts - 1,
}


def release(job_id: str, worker: str, now: datetime) -> Any:
    """A job given back untouched (graceful shutdown); returns its model, to announce it."""
    return (
        update(jobs)
        .where(owned(job_id, worker))
        .values(**GIVEN_BACK, updated_at=now)
        .returning(jobs.c.model)
    )


def give_back(job_id: str, worker: str, *, started_at: datetime | None, now: datetime) -> Any:
    """A claim over its key's limit, undone: the job as the claim found it (a start time the
    claim set is cleared: ``started_at`` is the one it had)."""
    return (
        update(jobs)
        .where(owned(job_id, worker))
        .values(**GIVEN_BACK, started_at=started_at, updated_at=now)
    )


def expired_lease(now: datetime) -> Any:
    """Running jobs whose lease expired: their worker stopped renewing it."""
    return and_(jobs.c.status == Status.GENERATING.value, jobs.c.lease_expires_at < now)


def due_for_reaping(expired: Any, batch: int) -> Any:
    """Up to ``batch`` expired jobs, oldest lease first. SKIP LOCKED: reapers in several
    processes share the work instead of waiting on (or deadlocking over) each other."""
    return (
        select(
            jobs.c.id,
            jobs.c.model,
            jobs.c.attempts,
            jobs.c.max_attempts,
            jobs.c.cancel_requested,
        )
        .where(expired)
        .order_by(jobs.c.lease_expires_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )


def expired_job(job_id: str, expired: Any) -> Any:
    """One of the jobs ``due_for_reaping`` found, as long as its lease is still expired: the
    condition is the guard of the write that ends or requeues it, as in every ending."""
    return and_(jobs.c.id == job_id, expired)


def requeue(this: Any, now: datetime) -> Any:
    """An expired job back in the queue (the attempt counts; it keeps its turn)."""
    return (
        update(jobs)
        .where(this)
        .values(
            status=Status.QUEUED.value,
            waiting=False,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
    )


def overdue(now: datetime) -> Any:
    """Jobs still queued or running past their Cancel-After deadline."""
    return and_(jobs.c.status.in_(_ACTIVE), jobs.c.deadline_at <= now)


def due_for_deadline(condition: Any, batch: int, *, lock: bool = True) -> Any:
    """Up to ``batch`` overdue jobs, the earliest deadline first; SKIP LOCKED, as the reaper's
    (``lock=False``: only to see whether there are any)."""
    query = select(jobs.c.id).where(condition).order_by(jobs.c.deadline_at).limit(batch)
    return query.with_for_update(skip_locked=True) if lock else query


def ahead_of(priority: int, turn: int, created_at: datetime) -> Any:
    """How many queued jobs come before one at (``priority``, ``turn``, ``created_at``) in
    claim order: a count over a range of ``ix_jobs_claim``."""
    return select(func.count()).where(
        jobs.c.status == Status.QUEUED.value,
        or_(
            jobs.c.priority > priority,
            and_(
                jobs.c.priority == priority,
                or_(
                    jobs.c.turn < turn,
                    and_(jobs.c.turn == turn, jobs.c.created_at < created_at),
                ),
            ),
        ),
    )


def recent_runs(model: str, limit: int) -> Any:
    """The model's latest completed jobs' start and end (``ix_jobs_model_finished``)."""
    return (
        select(jobs.c.started_at, jobs.c.finished_at)
        .where(
            jobs.c.model == model,
            jobs.c.status == Status.COMPLETED.value,
            jobs.c.started_at.is_not(None),
            jobs.c.finished_at.is_not(None),
        )
        .order_by(jobs.c.finished_at.desc())
        .limit(limit)
    )


#: Jobs running now, of every model.
RUNNING = select(func.count()).where(jobs.c.status == Status.GENERATING.value)

#: Queued jobs per model (``/metrics``, ``/ready``).
QUEUE_DEPTH = (
    select(jobs.c.model, func.count())
    .where(jobs.c.status == Status.QUEUED.value)
    .group_by(jobs.c.model)
)
