"""Generations as clients see them, in memory: ``GenerationRepository`` with the semantics of
``store.generations`` (the contract tests in ``tests/contract`` hold both to them)."""

from __future__ import annotations

import statistics
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime

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
from vidgen.core.models import Generation, Status
from vidgen.core.ports import Wakeup
from vidgen.core.usage import Dimension, GroupKey, UsageGroups, UsageSums, UsageTable
from vidgen.errors import InsufficientCredits
from vidgen.store.memory.state import ACTIVE, Idempotency, JobRow, LedgerEntry, State
from vidgen.store.rows import row_to_generation

__all__ = ["MemoryGenerations"]


class MemoryGenerations:
    def __init__(self, state: State, wakeup: Wakeup) -> None:
        self._state = state
        self._wakeup = wakeup

    async def create(
        self, job: NewJob, *, idempotency: IdempotencyClaim | None = None
    ) -> Generation:
        """Store the job and charge it in one step. Checked in the order the SQL transaction
        meets them (the balance, then the Idempotency-Key), before anything changes, so that a
        refusal leaves nothing behind, as a rollback does."""
        state = self._state
        async with state.lock:
            state.check_available()
            now = state.clock()
            key = state.keys.get(job.key_id)
            if key is None:
                raise LookupError(f"no API key {job.key_id!r}")
            if job.id in state.jobs:
                raise ValueError(f"a job {job.id!r} is stored already")
            balance = key.key.credits
            if balance is not None and balance < job.credits:
                raise InsufficientCredits(required=job.credits, available=balance)
            if idempotency is not None:
                held = state.idempotency.get((job.key_id, idempotency.key))
                if held is not None and held.expires_at > now:
                    raise IdempotencyRace()
            if balance is not None:
                key.key = replace(key.key, credits=balance - job.credits)
            facts = job.stored_facts()
            row = JobRow(
                id=job.id,
                key_id=job.key_id,
                model=job.model,
                engine=job.engine,
                status=Status.QUEUED.value,
                priority=job.priority,
                turn=_turn(state, job.key_id, job.priority),
                dialect=job.dialect,
                kind=job.kind.value,
                prompt=job.prompt,
                aspect_ratio=job.aspect_ratio,
                width=job.width,
                height=job.height,
                duration=job.duration,
                fps=job.fps,
                frames=job.frames,
                seed=job.seed,
                credits=job.credits,
                extras=facts.to_json(),
                max_attempts=job.max_attempts,
                created_at=now,
                updated_at=now,
                deadline_at=now + job.cancel_after if job.cancel_after is not None else None,
                seq=state.next_seq(),
                inputs=job.inputs,
            )
            state.jobs[row.id] = row
            state.ledger.append(LedgerEntry(job.key_id, job.id, -job.credits, "charge", now))
            if idempotency is not None:
                state.idempotency[(job.key_id, idempotency.key)] = Idempotency(
                    idempotency.fingerprint, job.id, now + idempotency.ttl
                )
            generation = row_to_generation(row)
        self._wakeup.job_ready()
        return generation

    async def find_idempotent(self, key_id: str, idempotency_key: str) -> IdempotentMatch | None:
        state = self._state
        async with state.lock:
            state.check_available()
            held = state.idempotency.get((key_id, idempotency_key))
            if held is None or held.expires_at <= state.clock():
                return None
            return IdempotentMatch(held.job_id, held.fingerprint)

    async def get(
        self, job_id: str, *, key_id: str | None = None, include_deleted: bool = False
    ) -> Generation | None:
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.jobs.get(job_id)
            if row is None or (key_id is not None and row.key_id != key_id):
                return None
            if row.deleted_at is not None and (key_id is not None or not include_deleted):
                return None
            return row_to_generation(row)

    async def list(
        self,
        key_id: str,
        *,
        limit: int = 20,
        after: str | None = None,
        statuses: Collection[Status] | None = None,
        newest_first: bool = True,
    ) -> tuple[list[Generation], bool]:
        """A page and whether more follow. Rows of one instant (a clock standing still) come
        in the order they were stored; the SQL store breaks such ties by id."""
        state = self._state
        async with state.lock:
            state.check_available()
            mine = sorted(
                (r for r in state.jobs.values() if r.key_id == key_id),
                key=lambda r: (r.created_at, r.seq),
                reverse=newest_first,
            )
            if after is not None:
                # A cursor stays valid after its own generation is deleted.
                cursor = next((i for i, r in enumerate(mine) if r.id == after), None)
                if cursor is None:
                    raise UnknownCursor(after)
                mine = mine[cursor + 1 :]
            shown = [
                r
                for r in mine
                if r.deleted_at is None and (not statuses or r.shown_as() in statuses)
            ]
            return [row_to_generation(r) for r in shown[:limit]], len(shown) > limit

    async def spent_since(self, key_id: str, since: datetime) -> int:
        state = self._state
        async with state.lock:
            state.check_available()
            return -sum(
                e.delta
                for e in state.ledger
                if e.key_id == key_id and e.job_id is not None and e.created_at >= since
            )

    async def usage_sums(
        self,
        key_id: str | None,
        start: datetime,
        end: datetime,
        by: tuple[Dimension, ...],
    ) -> UsageTable:
        return (await self.usage_groups(key_id, start, end, by)).groups

    async def usage_groups(
        self,
        key_id: str | None,
        start: datetime,
        end: datetime,
        by: tuple[Dimension, ...],
    ) -> UsageGroups:
        state = self._state
        async with state.lock:
            state.check_available()
            table: UsageTable = {}

            def name(key: str, model: str, at: datetime) -> GroupKey:
                values = {"day": at.astimezone(UTC).date().isoformat(), "model": model, "key": key}
                return tuple(values[d] for d in by)

            took: dict[GroupKey, list[float]] = {}
            for job in state.jobs.values():
                if (key_id is not None and job.key_id != key_id) or not (
                    start <= job.created_at < end
                ):
                    continue
                group = name(job.key_id, job.model, job.created_at)
                sums = table.setdefault(group, UsageSums())
                sums.jobs += 1
                if job.status == Status.COMPLETED.value:
                    sums.completed += 1
                    if job.output_frames and job.output_fps:
                        sums.seconds_of_video += job.output_frames / job.output_fps
                    if job.finished_at is not None:
                        seconds = (job.finished_at - job.created_at).total_seconds()
                        took.setdefault(group, []).append(seconds)
                elif job.status == Status.FAILED.value:
                    sums.failed += 1
                    sums.failures[job.error_name or "Unknown"] += 1
                elif job.status == Status.CANCELLED.value:
                    sums.cancelled += 1
            for entry in state.ledger:
                row = state.jobs.get(entry.job_id) if entry.job_id is not None else None
                if (
                    row is None
                    or entry.reason not in ("charge", "refund")
                    or (key_id is not None and entry.key_id != key_id)
                    or not start <= entry.created_at < end
                ):
                    continue
                sums = table.setdefault(
                    name(entry.key_id, row.model, entry.created_at), UsageSums()
                )
                if entry.reason == "charge":
                    sums.credits_charged -= entry.delta
                else:
                    sums.credits_refunded += entry.delta
            for group, times in took.items():
                table[group].median_seconds_to_complete = statistics.median(times)
            every = [t for times in took.values() for t in times]
            median = statistics.median(every) if every else None
            return UsageGroups(dict(sorted(table.items())), median)

    async def running_count(self, key_id: str) -> int:
        state = self._state
        async with state.lock:
            state.check_available()
            return state.running(key_id)

    async def queue_place(self, job_id: str) -> QueuePlace | None:
        state = self._state
        async with state.lock:
            state.check_available()
            job = state.jobs.get(job_id)
            if job is None or job.status != Status.QUEUED.value:
                return None

            def order(r: JobRow) -> tuple[int, int, datetime, int]:
                return (-r.priority, r.turn, r.created_at, r.seq)

            rows = state.jobs.values()
            ahead = sum(1 for r in rows if r.status == job.status and order(r) < order(job))
            done = sorted(
                (
                    r
                    for r in rows
                    if r.model == job.model
                    and r.status == Status.COMPLETED.value
                    and r.started_at is not None
                    and r.finished_at is not None
                ),
                key=lambda r: (r.finished_at, r.seq),
                reverse=True,
            )[:RECENT_RUNS]
            return QueuePlace(
                position=ahead + 1,
                mean_run_seconds=mean_seconds(
                    r.finished_at - r.started_at
                    for r in done
                    if r.finished_at is not None and r.started_at is not None
                ),
                running=sum(1 for r in rows if r.status == Status.GENERATING.value),
            )

    async def request_cancel(self, job_id: str, key_id: str) -> Generation | None:
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.jobs.get(job_id)
            if row is None or row.key_id != key_id:
                return None
            if row.status == Status.QUEUED.value:
                state.cancel(row)
            elif row.status == Status.GENERATING.value:
                row.cancel_requested = True
                row.updated_at = state.clock()
            return None if row.deleted_at is not None else row_to_generation(row)

    async def delete(self, job_id: str, key_id: str) -> Generation | None:
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.jobs.get(job_id)
            if row is None or row.key_id != key_id or row.deleted_at is not None:
                return None
            if row.status == Status.QUEUED.value:
                state.cancel(row)
            now = state.clock()
            row.deleted_at = row.updated_at = now
            # A running job never completes now (see ``JobQueue.complete``).
            row.cancel_requested = row.status == Status.GENERATING.value
            return row_to_generation(row)


def _turn(state: State, key_id: str, priority: int) -> int:
    """The new job's turn (see ``store.turns``): one after the key's latest active job at this
    priority, but never before the lowest turn still queued at this priority."""
    latest = max(
        (
            r.turn
            for r in state.jobs.values()
            if r.key_id == key_id and r.priority == priority and r.status in ACTIVE
        ),
        default=-1,
    )
    queued = [
        r.turn
        for r in state.jobs.values()
        if r.priority == priority and r.status == Status.QUEUED.value
    ]
    current = min(queued) - 1 if queued else -1
    return max(latest, current) + 1
