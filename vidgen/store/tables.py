"""Table definitions (SQLAlchemy Core). Every statement that uses them lives in ``store/``.

The ``jobs`` table *is* the queue: a row is both the generation a client polls and the work item a
worker claims, so there is nothing to keep consistent between a job and its queue entry.
``credit_ledger`` has one row per charge and per refund, unique per job and reason, which is what
makes "charged once, refunded at most once" a database guarantee rather than a code path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)

__all__ = [
    "UTCDateTime",
    "api_keys",
    "credit_ledger",
    "idempotency_keys",
    "job_inputs",
    "jobs",
    "metadata",
    "webhook_events",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones and returns naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, parse the stored text with ``datetime.fromisoformat`` (C, ~0.3 µs)
        rather than SQLAlchemy's regular expression (~3 µs; polls read three datetimes). Text
        it cannot parse goes the regular way."""
        regular = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return regular

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            try:
                parsed = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                return regular(value) if regular else value
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        return process


api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex of the secret
    Column("key_prefix", String(16), nullable=False),  # shown in listings, never enough to use
    Column("credits", BigInteger, nullable=True),  # NULL: unlimited
    Column("max_concurrency", Integer, nullable=True),  # NULL: no per-key limit
    # Copied onto each of the key's jobs: claims take higher priorities first (jobs.priority).
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("source", String(16), nullable=False),  # cli | env | auto | api
    Column("role", String(8), nullable=False, server_default="client"),  # admin | client
    Column("rate_limit_per_minute", Integer, nullable=True),  # NULL: the server's
    Column("monthly_credit_limit", BigInteger, nullable=True),  # NULL: no monthly cap
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("model", String(100), nullable=False),
    Column("engine", String(50), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    # The key's round-robin turn: claims take the lowest turn first within a priority, so keys
    # alternate however deep one key's backlog is (see ``store.queue_sql``).
    Column("turn", BigInteger, nullable=False, default=0, server_default="0"),
    Column("dialect", String(20), nullable=False),
    Column("kind", String(32), nullable=False),  # core.models.Kind
    Column("prompt", Text, nullable=False),
    Column("aspect_ratio", String(10), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("duration", Integer, nullable=False),
    Column("fps", Integer, nullable=False),
    # What the engine renders: the model's frame rule applied to the duration at submit time.
    Column("frames", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("credits", Integer, nullable=False),
    Column("extras", JSON, nullable=False),  # core.facts.JobFacts, versioned
    Column("progress", Float, nullable=False, default=0.0),
    # The engine holds the job but its upstream has not started it (PENDING/THROTTLED).
    Column("waiting", Boolean, nullable=False, default=False, server_default=false()),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", UTCDateTime, nullable=True),  # retry backoff: not claimable before
    Column("lease_owner", String(100), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    # Provider webhooks received for the job: its worker's heartbeat wakes the poll on a rise.
    # Server default only: a row written by an older revision's columns must still insert.
    Column("pokes", Integer, nullable=False, server_default="0"),
    Column("engine_state", JSON, nullable=True),  # e.g. the upstream task id, for resuming
    Column("error_name", String(100), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("output_key", String(300), nullable=True),
    Column("output_media_type", String(50), nullable=True),
    Column("output_bytes", BigInteger, nullable=True),
    Column("output_frames", Integer, nullable=True),
    Column("output_fps", Float, nullable=True),
    Column("output_width", Integer, nullable=True),
    Column("output_height", Integer, nullable=True),
    Column("thumbnail_key", String(300), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),  # deleted by its key: gone from every read
    # Cancel-After: not ended by then, the reaper ends it cancelled (DeadlineExceeded), refunded.
    Column("deadline_at", UTCDateTime, nullable=True),
    Index("ix_jobs_key_created", "key_id", "created_at"),
    # Every key's usage over a window (an admin's GET /v1/usage): the jobs created in it, and
    # the completed ones among them (their median time to complete).
    Index("ix_jobs_created", "created_at"),
    Index("ix_jobs_status_created", "status", "created_at"),
    # A key's latest turn (``store.queue_sql.TURN_PROBES``) and its running jobs (per-key concurrency).
    Index("ix_jobs_key_turn", "key_id", "status", "priority", "turn"),
    Index("ix_jobs_lease", "status", "lease_expires_at"),
    Index("ix_jobs_deadline", "status", "deadline_at"),
    # A model's latest completions: the durations its queue estimates are measured from.
    Index("ix_jobs_model_finished", "model", "status", "finished_at"),
)

#: The claim order, so that a claim reads the first unlocked entry instead of sorting the queue.
Index("ix_jobs_claim", jobs.c.status, jobs.c.priority.desc(), jobs.c.turn, jobs.c.created_at)

job_inputs = Table(
    "job_inputs",
    metadata,
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    # core.jobs.INPUT_POSITIONS: first | last | ref<n> | key<n> | video | character | performance
    Column("position", String(16), primary_key=True),
    Column("media_type", String(50), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    # Videos only (images leave them NULL): what the probe at submit found.
    Column("fps", Float, nullable=True),
    Column("frame_count", Integer, nullable=True),
    Column("duration", Float, nullable=True),
)

credit_ledger = Table(
    "credit_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True),
    Column("delta", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),  # charge | refund | grant | adjustment
    Column("note", Text, nullable=True),  # an operator's reason for an adjustment
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("job_id", "reason", name="uq_credit_ledger_job_reason"),
    Index("ix_credit_ledger_key", "key_id", "created_at"),
    # Every key's usage over a window: the entries written in it.
    Index("ix_credit_ledger_created", "created_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key_id", String(32), ForeignKey("api_keys.id"), primary_key=True),
    Column("idempotency_key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # sha256 of the canonical request
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

#: The webhook outbox. Final events are written in the same transaction as the state change that
#: causes them, so a crash can delay a delivery but never lose it.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(36), primary_key=True),  # the event id receivers deduplicate on
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("key_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("type", String(40), nullable=False),  # generation.completed, generation.progress, …
    Column("final", Boolean, nullable=False),
    Column("data", JSON, nullable=False),  # event-specific facts, e.g. the progress reported
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("gave_up_at", UTCDateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_webhook_events_due", "delivered_at", "gave_up_at", "next_attempt_at"),
    Index("ix_webhook_events_job", "job_id"),
)
