"""An in-memory store: every repository port of ``vidgen.core.ports`` without a database, for
fast tests of the service and the worker, yours included (as httpx ships ``MockTransport``).

It keeps the SQL store's rules, and the contract tests (``tests/contract``) run the same tests
against both: a job is stored with its charge in one step, and nothing at all when the key's
credits fall short; an Idempotency-Key is reserved with its lifetime; claims take the highest
priority, then the key whose turn it is, then the oldest job, within each key's
``max_concurrency``; every worker write is fenced on its lease; a cancel wins over a completion,
a failure and a retry; expired leases are reaped; final webhook events enter the outbox in the
step that ends the job. Time comes from a clock you can hold still and move (``ManualClock``),
so leases expire and backoffs pass without sleeping::

    clock = ManualClock()
    store = MemoryStore(clock=clock)
    key, secret = await store.keys.create("tests", credits=100)
    generation = await store.generations.create(new_job)  # charged 8: key has 92
    claimed = await store.jobs.claim_next("worker-1", lease_seconds=30)
    clock.advance(31)
    await store.jobs.requeue_expired()  # the job is queued again

Each operation runs whole under one ``asyncio.Lock`` and awaits nothing else, so each is
atomic, as a transaction is. ``store.available = False`` makes every call raise
``ServiceUnavailable``, as an outage of the database does.
"""

from __future__ import annotations

from vidgen.core.ports import GenerationRepository, JobQueue, KeyAdmin, WebhookOutbox
from vidgen.store.memory.generations import MemoryGenerations
from vidgen.store.memory.keys import MemoryKeys
from vidgen.store.memory.outbox import MemoryOutbox
from vidgen.store.memory.queue import MemoryJobQueue
from vidgen.store.memory.state import Clock, LedgerEntry, ManualClock, State, system_clock
from vidgen.store.notify import Wakeup

__all__ = [
    "Clock",
    "LedgerEntry",
    "ManualClock",
    "MemoryGenerations",
    "MemoryJobQueue",
    "MemoryKeys",
    "MemoryOutbox",
    "MemoryStore",
]


class MemoryStore:
    """One store's state behind its four ports: ``generations`` (``GenerationRepository``),
    ``jobs`` (``JobQueue``, with an in-process ``Wakeup``), ``keys`` (``KeyAdmin``, plus grant
    and configure) and ``webhooks`` (``WebhookOutbox``)."""

    def __init__(self, *, clock: Clock | None = None, wakeup: Wakeup | None = None) -> None:
        self._state = State(clock or system_clock)
        self.wakeup = wakeup or Wakeup()
        self.generations = MemoryGenerations(self._state, self.wakeup)
        self.jobs = MemoryJobQueue(self._state, self.wakeup)
        self.keys = MemoryKeys(self._state)
        self.webhooks = MemoryOutbox(self._state)

    @property
    def clock(self) -> Clock:
        return self._state.clock

    @property
    def available(self) -> bool:
        """False: every call raises ``ServiceUnavailable`` (an outage, for tests)."""
        return self._state.available

    @available.setter
    def available(self, value: bool) -> None:
        self._state.available = value

    def ledger(self, job_id: str | None = None) -> list[LedgerEntry]:
        """The credit ledger (charges, refunds, grants), or one job's part of it."""
        return [e for e in self._state.ledger if job_id is None or e.job_id == job_id]


def _implements_the_ports(
    store: MemoryStore,
) -> tuple[GenerationRepository, JobQueue, KeyAdmin, WebhookOutbox]:
    """Never called: mypy checks here that each part implements its port."""
    return store.generations, store.jobs, store.keys, store.webhooks
