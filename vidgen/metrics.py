"""Prometheus metrics, shared by the API and the workers of one process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CREDITS_CHARGED",
    "HTTP_LATENCY",
    "JOBS_RUNNING",
    "JOBS_SUBMITTED",
    "JOB_DURATION",
    "JOB_OUTCOMES",
    "JOB_QUEUE_WAIT",
    "QUEUE_DEPTH",
]

HTTP_LATENCY = Histogram(
    "vidgen_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_DEPTH = Gauge("vidgen_queue_depth", "Queued jobs per model.", ["model"])
JOBS_SUBMITTED = Counter("vidgen_jobs_submitted_total", "Jobs accepted.", ["model", "dialect"])
# Charged when a job is stored (its price). Refunds are not counted here: they are written by
# whichever process ends a job (a client's cancel, a worker, the reaper), in the ledger.
CREDITS_CHARGED = Counter(
    "vidgen_credits_charged_total", "Credits charged for accepted jobs.", ["model", "dialect"]
)
JOB_OUTCOMES = Counter(
    "vidgen_job_outcomes_total",
    "Finished attempts by outcome (completed, failed, cancelled, retried, lost).",
    ["model", "engine", "outcome"],
)
JOB_DURATION = Histogram(
    "vidgen_job_duration_seconds",
    "Time an engine spent on one attempt.",
    ["model", "engine", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
JOB_QUEUE_WAIT = Histogram(
    "vidgen_job_queue_wait_seconds",
    "Time from submit to first claim.",
    ["model"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOBS_RUNNING = Gauge("vidgen_jobs_running", "Jobs this process is running now.", ["engine"])
