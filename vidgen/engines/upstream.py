"""What the proxy engines share: a job's life as a task on somebody else's server.

``UpstreamEngine`` runs the loop that the ``runway`` and ``aimlapi`` engines have in common. Each
of them only says how to create, read and cancel one upstream task and how its errors read::

    create (once) → record the task id on the job → poll every VIDGEN_UPSTREAM_POLL_INTERVAL s
    → copy the output into the scratch dir → (the worker probes and stores it)

Rules that hold for every provider:

- **Never pay twice.** The task id is saved on the job (``ctx.save_state``) the moment the create
  call returns. An attempt that finds one (a worker died, a lease expired, the server restarted)
  resumes polling that task and never creates another. If the id cannot be saved (the lease
  was lost meanwhile), the task is deleted at once, since no later attempt could find it.
- **Retries.** One policy for every provider (``vidgen.engines.policy``):
  ``TransientUpstreamError`` (429, 502, 503, 504, connection errors) is retried in place with
  exponential backoff and jitter, honouring ``Retry-After``, for as long as the job's time limit
  allows; then the attempt fails as retryable. Everything else is final: an upstream 400 fails
  the job with the upstream's own words, a wrong key names the setting, a safety refusal and an
  exhausted quota have their own names. A task the provider reports FAILED is never retried.
- **Cancel.** A client's cancel deletes the upstream task, then the job ends cancelled. A worker
  that stops or loses its lease (``ctx.handing_back``) leaves the task alone for the next attempt.
- **Webhooks.** A provider that sends them (``receives_hooks``: fal, Replicate) is given a
  callback URL at create when ``VIDGEN_PUBLIC_URL`` is set (``core.provider_hooks``). A hook
  only wakes the wait between two polls (``EngineContext.take_poke``); the status and the
  output still come from a poll, so a forged or replayed hook costs one poll at most. With hooks
  on, polls come every ``VIDGEN_WEBHOOK_POLL_INTERVAL`` s, a safety net for a lost hook.
- **Outputs.** Provider URLs expire (Runway's in 24–48 h), so the file is copied through the
  ``SafeFetcher`` (SSRF rules, size cap) and must probe as a playable video before it is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Final, TypeVar

from vidgen.core.provider_hooks import hook_url
from vidgen.engines.base import Engine, EngineContext, EngineJob, EngineResult
from vidgen.engines.policy import TransientUpstreamError, backoff_delay, parse_retry_after
from vidgen.errors import EngineError, JobCancelled, RetryableEngineError
from vidgen.media.fetch import FetchError, FetchRefused, SafeFetcher
from vidgen.media.video import probe_video

__all__ = [
    "TASK_ID_STATE",
    "Phase",
    "TaskStatus",
    "TransientUpstreamError",
    "UpstreamEngine",
    "backoff_delay",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The key under which the upstream task id is saved in the job's engine state.
TASK_ID_STATE: Final = "upstream_task_id"
#: Upstream progress fills this share of the bar; copying the output fills the rest.
_UPSTREAM_SHARE: Final = 0.95
#: Deleting an upstream task must finish inside the worker's grace for a cancelled job
#: (``worker.job.CANCEL_GRACE_SECONDS``, 10 s), after which the engine task is cancelled.
_CANCEL_BUDGET: Final = 8.0
#: How often the output download may fail (re-polling for a fresh URL in between) before the
#: job fails: an expired link usually comes back fresh from the next poll.
_DOWNLOAD_TRIES: Final = 3
#: Cancels are noticed within this many seconds while waiting between polls.
_PAUSE_SLICE: Final = 0.2


class Phase(StrEnum):
    """Where an upstream task is, in the words every provider's states map to."""

    WAITING = "waiting"  # accepted, not started (Runway PENDING/THROTTLED, aimlapi queued)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TaskStatus:
    """One poll's answer, translated."""

    phase: Phase
    progress: float | None = None  # 0…1, while running, if the provider says
    output_url: str | None = None  # once succeeded
    error_name: str = "GenerationFailed"  # once failed
    error_message: str = ""


class UpstreamEngine(Engine):
    """Base of the engines that proxy a job to a provider. See the module docstring.

    Subclasses set ``provider`` (a name for messages, e.g. "Runway") and implement
    ``create_task``, ``get_task`` and ``cancel_task``. Those raise ``TransientUpstreamError``
    for what is worth retrying and ``EngineError`` (with the upstream's message) for the rest.
    """

    provider: ClassVar[str] = "the upstream service"
    #: Whether the provider calls a webhook when a task ends (see the module docstring).
    receives_hooks: ClassVar[bool] = False

    _fetcher: SafeFetcher | None = None

    @abstractmethod
    async def create_task(self, job: EngineJob) -> str:
        """Start the upstream task for ``job`` and return its id."""

    @abstractmethod
    async def get_task(self, task_id: str) -> TaskStatus:
        """Read the task's state."""

    @abstractmethod
    async def cancel_task(self, task_id: str) -> None:
        """Cancel (or delete) the task upstream."""

    async def close_client(self) -> None:
        """Close the subclass's HTTP client, if it made one."""

    def hook_url(self, job_id: str) -> str | None:
        """The callback URL to give the provider for ``job_id``, or None: the provider sends
        no webhooks, or vidgen has no public URL for it to reach."""
        public_url = self.settings.public_url
        if not self.receives_hooks or not public_url:
            return None
        return hook_url(public_url, self.settings.link_secret(), self.name, job_id)

    async def verify_hook(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether a webhook that carried a valid vidgen token is also signed by the provider,
        where the provider signs and its client can check it. Default: no signature to check."""
        return True

    @property
    def poll_interval(self) -> float:
        """Seconds between two polls: longer when the provider's webhook wakes the poll."""
        if self.receives_hooks and self.settings.public_url:
            return self.settings.webhook_poll_interval
        return self.settings.upstream_poll_interval

    @property
    def fetcher(self) -> SafeFetcher:
        # Made on first use: start-up builds engines once just to check the configuration.
        if self._fetcher is None:
            self._fetcher = SafeFetcher.from_settings(self.settings)
        return self._fetcher

    async def output_fetcher(self) -> SafeFetcher:
        """The fetcher that downloads this provider's outputs: by default the SSRF-guarded one
        every user-influenced URL goes through."""
        return self.fetcher

    async def download_output(self, url: str, path: Path, seconds: float) -> None:
        """Copy the output at ``url`` into ``path``, raising ``FetchError`` when it cannot be
        had: by default through ``output_fetcher``, for links anyone holding them may read."""
        fetcher = await self.output_fetcher()
        await fetcher.stream_to_file(
            url,
            path,
            max_bytes=self.settings.max_output_bytes,
            subject=f"{self.provider} output",
            deadline=seconds,
        )

    async def aclose(self) -> None:
        await self.close_client()
        if self._fetcher is not None:
            await self._fetcher.aclose()
            self._fetcher = None

    # -- the job's life ----------------------------------------------------------------------

    async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
        deadline = time.monotonic() + self.settings.job_timeout_seconds
        saved = job.state.get(TASK_ID_STATE)
        if isinstance(saved, str) and saved:
            task_id = saved
            log.info(
                "resuming the upstream task",
                extra={"engine": self.name, "upstream_task_id": task_id, "attempt": job.attempt},
            )
        else:
            ctx.raise_if_cancelled()
            task_id = await self._retrying(ctx, deadline, "create", lambda: self.create_task(job))
            await self._record(ctx, task_id)
            # A task is never done at once, and Runway asks for at most one poll per 5 s.
            await self._pause(ctx, self.poll_interval, wake_on_hook=True)
        try:
            return await self._follow(ctx, task_id, deadline)
        except JobCancelled:
            if ctx.cancelled and not ctx.handing_back:
                await self._cancel_upstream(task_id)
            raise

    async def _record(self, ctx: EngineContext, task_id: str) -> None:
        try:
            await ctx.save_state(**{TASK_ID_STATE: task_id})
        except BaseException:
            # No later attempt can find this task: delete it rather than pay for it and for
            # the one the next attempt creates.
            log.error(
                "the upstream task id could not be saved; deleting the task",
                extra={"engine": self.name, "upstream_task_id": task_id},
            )
            await self._cancel_upstream(task_id)
            raise
        log.info("upstream task created", extra={"engine": self.name, "upstream_task_id": task_id})

    async def _follow(self, ctx: EngineContext, task_id: str, deadline: float) -> EngineResult:
        download_failures = 0
        while True:
            ctx.raise_if_cancelled()
            status = await self._retrying(ctx, deadline, "poll", lambda: self.get_task(task_id))
            if status.phase is Phase.WAITING:
                ctx.report_waiting(True)
            elif status.phase is Phase.RUNNING:
                ctx.report_waiting(False)
                if status.progress is not None:
                    ctx.report_progress(_UPSTREAM_SHARE * min(max(status.progress, 0.0), 1.0))
            elif status.phase is Phase.SUCCEEDED:
                ctx.report_waiting(False)
                try:
                    return await self._copy_output(ctx, status, deadline)
                except FetchError as exc:
                    download_failures += 1
                    if isinstance(exc, FetchRefused) or download_failures >= _DOWNLOAD_TRIES:
                        raise EngineError(
                            f"The video {self.provider} made could not be copied: {exc.message}",
                            name="OutputUnavailable",
                        ) from exc
                    log.warning(
                        "copying the upstream output failed; polling for a fresh link",
                        extra={
                            "engine": self.name,
                            "upstream_task_id": task_id,
                            "error": exc.message,
                        },
                    )
                    await self._pause(
                        ctx,
                        backoff_delay(self.settings.upstream_backoff_seconds, download_failures),
                    )
                    continue
            elif status.phase is Phase.FAILED:
                raise EngineError(
                    status.error_message or f"{self.provider} reported that the generation failed.",
                    name=status.error_name,
                )
            else:
                raise JobCancelled(f"The generation was cancelled at {self.provider}.")
            await self._pause(ctx, self.poll_interval, wake_on_hook=True)

    async def _copy_output(
        self, ctx: EngineContext, status: TaskStatus, deadline: float
    ) -> EngineResult:
        if not status.output_url:
            raise EngineError(
                f"{self.provider} reported success but gave no output URL.", name="BadOutput"
            )
        path = ctx.scratch_dir / "upstream-output.mp4"
        # A big file on a slow link may need more than the fetcher's minute for images.
        await self.download_output(status.output_url, path, max(60.0, deadline - time.monotonic()))
        try:
            info = await asyncio.to_thread(probe_video, path)
        except Exception as exc:
            raise EngineError(
                f"The file {self.provider} returned is not a playable video.", name="BadOutput"
            ) from exc
        if info.frame_count < 1 or info.width < 1 or info.height < 1:
            raise EngineError(f"The video {self.provider} returned is empty.", name="BadOutput")
        ctx.report_progress(1.0)
        return EngineResult(
            path=path,
            width=info.width,
            height=info.height,
            fps=info.fps,
            frame_count=info.frame_count,
        )

    # -- retries, pauses, cancels ------------------------------------------------------------

    async def _retrying(
        self,
        ctx: EngineContext,
        deadline: float,
        what: str,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        failures = 0
        while True:
            try:
                return await call()
            except TransientUpstreamError as exc:
                failures += 1
                delay = backoff_delay(
                    self.settings.upstream_backoff_seconds, failures, exc.retry_after
                )
                if time.monotonic() + delay >= deadline:
                    raise RetryableEngineError(
                        f"{self.provider} kept failing ({exc.message}); gave up within the job's "
                        "time limit.",
                        name="UpstreamUnavailable",
                    ) from exc
                log.warning(
                    "upstream call failed; retrying",
                    extra={
                        "engine": self.name,
                        "call": what,
                        "error": exc.message,
                        "failures": failures,
                        "retry_in": round(delay, 2),
                    },
                )
                await self._pause(ctx, delay)
                ctx.raise_if_cancelled()

    @staticmethod
    async def _pause(ctx: EngineContext, seconds: float, *, wake_on_hook: bool = False) -> None:
        """Sleep, but wake up within a fraction of a second when the job is cancelled, or (a
        wait between polls) when the provider's webhook arrived. (The context's flags are
        thread-safe but not awaitable, hence the short naps.) A retry's backoff is not cut
        short by a hook: the provider asked for that wait."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0 or ctx.cancelled or (wake_on_hook and ctx.take_poke()):
                return
            await asyncio.sleep(min(left, _PAUSE_SLICE))

    async def _cancel_upstream(self, task_id: str) -> None:
        """Best effort, bounded by ``_CANCEL_BUDGET``: a failure is logged, never raised, since
        the job ends cancelled (and refunded) either way."""
        give_up = time.monotonic() + _CANCEL_BUDGET
        failures = 0
        extra = {"engine": self.name, "upstream_task_id": task_id}
        while True:
            left = give_up - time.monotonic()
            try:
                await asyncio.wait_for(self.cancel_task(task_id), timeout=max(0.1, left))
            except TransientUpstreamError as exc:
                failures += 1
                delay = backoff_delay(
                    self.settings.upstream_backoff_seconds, failures, exc.retry_after
                )
                if time.monotonic() + delay < give_up:
                    await asyncio.sleep(delay)
                    continue
                log.warning("upstream task not cancelled", extra={**extra, "error": exc.message})
            except (EngineError, TimeoutError) as exc:
                message = exc.message if isinstance(exc, EngineError) else "timed out"
                log.warning("upstream task not cancelled", extra={**extra, "error": message})
            except Exception:
                log.warning("upstream task not cancelled", exc_info=True, extra=extra)
            else:
                log.info("upstream task cancelled", extra=extra)
            return
