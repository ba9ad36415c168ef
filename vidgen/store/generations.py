"""Generations as clients see them: stored (charged, maybe under an Idempotency-Key), read,
listed, cancelled and deleted, always scoped to the key that owns them. The worker's side of the
same rows is ``store.jobs``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from vidgen.core.jobs import (
    RECENT_RUNS,
    IdempotencyClaim,
    IdempotencyRace,
    IdempotentMatch,
    NewJob,
    QueuePlace,
    UnknownCursor,
    mean_seconds,
)
from vidgen.core.models import CapturedMedia, CapturedVideo, Generation, Status
from vidgen.core.usage import Dimension, UsageGroups, UsageTable
from vidgen.store import queue_sql
from vidgen.store.credits import BALANCE, CANCELLED, finish_and_refund, take_credits
from vidgen.store.db import Database
from vidgen.store.notify import Wakeup
from vidgen.store.rows import GENERATION_COLUMNS, row_to_generation
from vidgen.store.tables import credit_ledger, idempotency_keys, job_inputs, jobs
from vidgen.store.usage_sql import usage_table

__all__ = ["GenerationStore"]


class GenerationStore:
    def __init__(self, db: Database, wakeup: Wakeup | None = None) -> None:
        self.db = db
        self.wakeup = wakeup or Wakeup()

    async def create(
        self, job: NewJob, *, idempotency: IdempotencyClaim | None = None
    ) -> Generation:
        """Store the job and charge its price in one transaction. Raises InsufficientCredits
        (and stores nothing) when the key's balance is below the price, and IdempotencyRace
        when a concurrent request took the same Idempotency-Key first."""
        now = self.db.now()
        inputs = job.inputs

        values = {
            "id": job.id,
            "key_id": job.key_id,
            "model": job.model,
            "engine": job.engine,
            "status": Status.QUEUED.value,
            "priority": job.priority,
            "dialect": job.dialect,
            "kind": job.kind.value,
            "prompt": job.prompt,
            "aspect_ratio": job.aspect_ratio,
            "width": job.width,
            "height": job.height,
            "duration": job.duration,
            "fps": job.fps,
            "frames": job.frames,
            "seed": job.seed,
            "credits": job.credits,
            "extras": job.stored_facts().to_json(),
            "progress": 0.0,
            "attempts": 0,
            "max_attempts": job.max_attempts,
            "cancel_requested": False,
            "created_at": now,
            "updated_at": now,
            "deadline_at": now + job.cancel_after if job.cancel_after is not None else None,
        }
        insert_job = (
            queue_sql.INSERT_JOB_NOTIFY if self.db.dialect == "postgresql" else queue_sql.INSERT_JOB
        )

        def create(conn: Connection) -> Generation:
            # One round trip for what the insert depends on: the balance and the turn.
            facts = conn.execute(_CREATE_FACTS, {"key_id": job.key_id, "priority": job.priority})
            facts_row = facts.one()
            take_credits(conn, job.key_id, job.credits, facts_row.balance)
            row = conn.execute(insert_job, {**values, "turn": queue_sql.turn_from(facts_row)}).one()
            if inputs:
                conn.execute(
                    insert(job_inputs), [_input_row(job.id, p, i) for p, i in inputs.items()]
                )
            # The ledger row references the job, so it goes in after it; all of it commits
            # together.
            conn.execute(
                _INSERT_LEDGER,
                {
                    "key_id": job.key_id,
                    "job_id": job.id,
                    "delta": -job.credits,
                    "reason": "charge",
                    "created_at": now,
                },
            )
            if idempotency is not None:
                _reserve_idempotency_key(conn, job, idempotency, now)
            return row_to_generation(row)

        try:
            generation = await self.db.write(create)
        except IntegrityError as exc:
            if idempotency is not None and "idempotency" in str(exc.orig).lower():
                raise IdempotencyRace() from exc
            raise
        self.wakeup.job_ready()
        return generation

    async def find_idempotent(self, key_id: str, idempotency_key: str) -> IdempotentMatch | None:
        """The job stored under this key's Idempotency-Key, unless that reservation expired."""
        query = select(idempotency_keys.c.job_id, idempotency_keys.c.fingerprint).where(
            idempotency_keys.c.key_id == key_id,
            idempotency_keys.c.idempotency_key == idempotency_key,
            idempotency_keys.c.expires_at > self.db.now(),
        )

        def read(conn: Connection) -> IdempotentMatch | None:
            row = conn.execute(query).first()
            return IdempotentMatch(row.job_id, row.fingerprint) if row else None

        return await self.db.read(read, point=True)

    async def get(
        self, job_id: str, *, key_id: str | None = None, include_deleted: bool = False
    ) -> Generation | None:
        """One generation; with ``key_id``, only if that key owns it (the poll path)."""
        if key_id is not None:
            query, params = _GET_OWNED, {"job_id": job_id, "key_id": key_id}
        else:
            query, params = (_GET_ANY if include_deleted else _GET), {"job_id": job_id}

        row = await self.db.point(query, params)
        return row_to_generation(row) if row else None

    async def list(
        self,
        key_id: str,
        *,
        limit: int = 20,
        after: str | None = None,
        statuses: Collection[Status] | None = None,
        newest_first: bool = True,
    ) -> tuple[list[Generation], bool]:
        """One page of a key's generations and whether more follow. ``after`` is the id of the
        last generation of the previous page (a cursor that stays valid while rows are added,
        and after its own generation is deleted); any other ``after`` raises UnknownCursor."""
        order = (
            (jobs.c.created_at.desc(), jobs.c.id.desc())
            if newest_first
            else (jobs.c.created_at, jobs.c.id)
        )
        query = (
            select(*GENERATION_COLUMNS)
            .where(jobs.c.key_id == key_id, jobs.c.deleted_at.is_(None))
            .order_by(*order)
            .limit(limit + 1)
        )
        if statuses:
            query = query.where(or_(*(_shown_as(status) for status in statuses)))

        def read(conn: Connection) -> tuple[list[Generation], bool]:
            nonlocal query
            if after is not None:
                cursor = conn.execute(
                    select(jobs.c.created_at, jobs.c.id).where(
                        jobs.c.id == after, jobs.c.key_id == key_id
                    )
                ).first()
                if cursor is None:
                    raise UnknownCursor(after)
                position = tuple_(jobs.c.created_at, jobs.c.id)
                query = query.where(
                    position < tuple_(cursor.created_at, cursor.id)
                    if newest_first
                    else position > tuple_(cursor.created_at, cursor.id)
                )
            rows = conn.execute(query).all()
            return [row_to_generation(r) for r in rows[:limit]], len(rows) > limit

        return await self.db.read(read)

    async def spent_since(self, key_id: str, since: datetime) -> int:
        """Net credits the key spent since ``since``: its charges less its refunds."""
        query = select(func.coalesce(func.sum(credit_ledger.c.delta), 0)).where(
            credit_ledger.c.key_id == key_id,
            credit_ledger.c.job_id.is_not(None),
            credit_ledger.c.created_at >= since,
        )
        return await self.db.read(lambda conn: -int(conn.execute(query).scalar_one()))

    async def usage_sums(
        self,
        key_id: str | None,
        start: datetime,
        end: datetime,
        by: tuple[Dimension, ...],
    ) -> UsageTable:
        dialect = self.db.dialect
        usage = await self.db.read(lambda conn: usage_table(conn, dialect, key_id, start, end, by))
        return usage.groups

    async def usage_groups(
        self,
        key_id: str | None,
        start: datetime,
        end: datetime,
        by: tuple[Dimension, ...],
    ) -> UsageGroups:
        dialect = self.db.dialect
        return await self.db.read(
            lambda conn: usage_table(conn, dialect, key_id, start, end, by, overall=True)
        )

    async def running_count(self, key_id: str) -> int:
        query = select(func.count()).where(
            jobs.c.key_id == key_id, jobs.c.status == Status.GENERATING.value
        )
        return await self.db.read(lambda conn: int(conn.execute(query).scalar_one()), point=True)

    async def queue_place(self, job_id: str) -> QueuePlace | None:
        def read(conn: Connection) -> QueuePlace | None:
            job = conn.execute(
                select(jobs.c.model, jobs.c.priority, jobs.c.turn, jobs.c.created_at).where(
                    jobs.c.id == job_id, jobs.c.status == Status.QUEUED.value
                )
            ).first()
            if job is None:
                return None
            ahead = conn.execute(queue_sql.ahead_of(job.priority, job.turn, job.created_at))
            runs = conn.execute(queue_sql.recent_runs(job.model, RECENT_RUNS)).all()
            running = conn.execute(queue_sql.RUNNING).scalar_one()
            return QueuePlace(
                position=int(ahead.scalar_one()) + 1,
                mean_run_seconds=mean_seconds((r.finished_at - r.started_at) for r in runs),
                running=int(running),
            )

        return await self.db.read(read)

    async def request_cancel(self, job_id: str, key_id: str) -> Generation | None:
        """Cancel: a queued job ends cancelled (refunded) at once; a running one is flagged and
        its worker stops it at the next check; a finished one is left as it is."""
        mine = and_(jobs.c.id == job_id, jobs.c.key_id == key_id)

        def cancel(conn: Connection) -> None:
            queued = and_(mine, jobs.c.status == Status.QUEUED.value)
            now = self.db.now()
            if not finish_and_refund(conn, queued, Status.CANCELLED, *CANCELLED, now=now):
                conn.execute(queue_sql.flag_cancel(mine, now))

        await self.db.write(cancel)
        return await self.get(job_id, key_id=key_id)

    async def delete(self, job_id: str, key_id: str) -> Generation | None:
        """Delete a generation for its key: an active one is cancelled first (refunded; a
        running one never completes, see ``JobStore.complete``), and from then on every read
        answers 404. Returns the generation as the delete left it: one that is final is the
        caller's to remove from storage; a running one's worker removes what it stored."""
        mine = and_(jobs.c.id == job_id, jobs.c.key_id == key_id, jobs.c.deleted_at.is_(None))

        def run(conn: Connection) -> Generation | None:
            queued = and_(mine, jobs.c.status == Status.QUEUED.value)
            now = self.db.now()
            finish_and_refund(conn, queued, Status.CANCELLED, *CANCELLED, now=now)
            # One statement, so that what it returns is the row as it decided: on PostgreSQL
            # a completion committing meanwhile is waited for and seen, never missed between
            # a read and this write.
            row = conn.execute(
                update(jobs)
                .where(mine)
                .values(
                    deleted_at=now,
                    updated_at=now,
                    cancel_requested=jobs.c.status == Status.GENERATING.value,
                )
                .returning(*GENERATION_COLUMNS)
            ).first()
            return row_to_generation(row) if row is not None else None

        return await self.db.write(run)


# Built once: the poll path runs these thousands of times a second, and a statement object that
# is reused skips SQLAlchemy's construction and cache-key work.
#: What a create's insert depends on, in one round trip: the key's balance and the new job's
#: turn (``queue_sql.TURN_PROBES``).
_CREATE_FACTS = select(BALANCE, *queue_sql.TURN_PROBES)
_INSERT_LEDGER = insert(credit_ledger)
_GET_ANY = select(*GENERATION_COLUMNS).where(jobs.c.id == bindparam("job_id"))
_GET = _GET_ANY.where(jobs.c.deleted_at.is_(None))
_GET_OWNED = _GET.where(jobs.c.key_id == bindparam("key_id"))


def _input_row(job_id: str, position: str, item: CapturedMedia) -> dict[str, Any]:
    row: dict[str, Any] = {
        "job_id": job_id,
        "position": position,
        "media_type": item.media_type,
        "width": item.width,
        "height": item.height,
        "sha256": item.sha256,
        "data": item.data,
        "fps": None,
        "frame_count": None,
        "duration": None,
    }
    if isinstance(item, CapturedVideo):
        row |= {"fps": item.fps, "frame_count": item.frame_count, "duration": item.duration}
    return row


def _shown_as(status: Status) -> Any:
    """The rows a client sees in ``status`` (see ``row_to_generation``: held-but-waiting jobs
    read as queued)."""
    if status is Status.QUEUED:
        return or_(
            jobs.c.status == Status.QUEUED.value,
            and_(jobs.c.status == Status.GENERATING.value, jobs.c.waiting),
        )
    if status is Status.GENERATING:
        return and_(jobs.c.status == Status.GENERATING.value, ~jobs.c.waiting)
    return jobs.c.status == status.value


def _reserve_idempotency_key(
    conn: Connection, job: NewJob, claim: IdempotencyClaim, now: datetime
) -> None:
    """Tie the key's Idempotency-Key to this job. An expired reservation is replaced; a live
    one makes the insert fail on the primary key (the caller turns that into a replay)."""
    conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.key_id == job.key_id,
            idempotency_keys.c.idempotency_key == claim.key,
            idempotency_keys.c.expires_at <= now,
        )
    )
    conn.execute(
        insert(idempotency_keys).values(
            key_id=job.key_id,
            idempotency_key=claim.key,
            fingerprint=claim.fingerprint,
            job_id=job.id,
            created_at=now,
            expires_at=now + claim.ttl,
        )
    )
