"""What to send, how to read the answers, and when to retry or wait, with no I/O of its own.

Each operation is a generator (a *plan*) that yields steps — ``Send`` a request, ``Sleep``,
``Report`` progress, ``Stream`` a download into a file — and receives each step's outcome.
``Client`` runs plans with blocking calls and ``AsyncClient`` with ``await``. The retry, backoff
and polling rules therefore exist once, and tests can drive them with a fake clock. (This is the
"sans-I/O" pattern that h11 and httpcore are built on.)
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar, Unpack

import httpx

from vidgen.client.config import (
    USER_AGENT,
    Clock,
    PollPolicy,
    RetryPolicy,
    SystemClock,
    resolve_api_key,
    resolve_base_url,
)
from vidgen.client.create import CreateOptions, create_body
from vidgen.client.download import LinkRefused, PartialFile, RetryableDownload
from vidgen.client.errors import (
    APIConnectionError,
    APIError,
    DownloadError,
    GenerationFailed,
    Timeout,
    error_from_response,
    retry_after_seconds,
)
from vidgen.client.types import Generation, GenerationPage, Model, parse_models

__all__ = [
    "Api",
    "Driver",
    "Listen",
    "Plan",
    "ProgressCallback",
    "Report",
    "Send",
    "Sleep",
    "Step",
    "Stream",
    "generation_id_of",
]

T = TypeVar("T")

GENERATIONS_PATH = "/v2/video/generations"
MODELS_PATH = "/v1/models"
#: Worth another try for a read: the server, or a proxy in front of it, is briefly unable.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Worth another try for a create too: these say the request was not taken.
CREATE_RETRYABLE_STATUSES = frozenset({429, 503})
#: Failures before any byte of the request left, so even a create cannot have landed.
UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

ProgressCallback: TypeAlias = Callable[[Generation], Any]


@dataclass(frozen=True)
class Send:
    """Send this request; the runner answers with the ``httpx.Response`` (body read)."""

    request: httpx.Request


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Report:
    """Call ``callback(generation)`` (awaiting it on ``AsyncClient`` if it is a coroutine)."""

    callback: ProgressCallback
    generation: Generation


@dataclass(frozen=True)
class Stream:
    """Send ``request`` and pour the response into ``sink`` (``begin``, then ``write``s)."""

    request: httpx.Request
    sink: PartialFile


#: Seconds a followed event stream may stay silent before it is given up for polling: the
#: server sends a keep-alive comment every 15 s, so silence this long means a dead connection.
LISTEN_READ_TIMEOUT = 45.0


@dataclass(frozen=True)
class Listen:
    """Open ``request``'s Server-Sent Events stream (vidgen's ``/v1/generations/{id}/events``)
    and hand each event's data to ``on_event``, which returns the generation when it changed;
    the runner reports it to ``on_progress`` (awaiting it on ``AsyncClient``), and stops at a
    final one, which it answers with; None when the stream is not there (any status but 200)
    or ended without one. Transport errors are raised into the plan, which then polls."""

    request: httpx.Request
    on_event: Callable[[dict[str, Any]], Generation | None]
    on_progress: ProgressCallback | None
    read_timeout: float

    def changed(self, data: str) -> Generation | None:
        """The generation an event's data shows, when it changed; None for a keep-alive comment
        or no change. Data that is not JSON raises ``ValueError`` (the plan then polls)."""
        return self.on_event(json.loads(data)) if data else None


Step: TypeAlias = Send | Sleep | Report | Stream | Listen
#: A plan yields steps, is sent each step's outcome (or has its error thrown in), returns T.
Plan: TypeAlias = Generator[Step, Any, T]


class Driver(Generic[T]):
    """A plan's side of its runner's loop, which is then only::

    with Driver(plan) as driver:
        while (step := driver.next_step()) is not None:
            try:
                driver.outcome = perform(step)  # or await it
            except Exception as exc:  # the plan decides: retry, or raise its typed error
                driver.error = exc
        return driver.result
    """

    def __init__(self, plan: Plan[T]) -> None:
        self.plan = plan
        self.outcome: Any = None
        self.error: Exception | None = None

    def next_step(self) -> Step | None:
        """Hand the last outcome (or error) to the plan and return its next step; None once it
        has returned (its value is then ``result``). An error it raises comes out of here."""
        try:
            if self.error is not None:
                step = self.plan.throw(self.error)
            else:
                step = self.plan.send(self.outcome)
        except StopIteration as stop:
            self.result: T = stop.value
            return None
        self.outcome, self.error = None, None
        return step

    def __enter__(self) -> Driver[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.plan.close()


def _event_generation(data: dict[str, Any]) -> Generation | None:
    """A generation as an event of vidgen's stream shows it (statuses as a poll reads them:
    ``failed`` and ``cancelled`` are ``error``)."""
    status = data.get("status")
    if not isinstance(data.get("id"), str) or not isinstance(status, str):
        return None
    word = "error" if status in ("failed", "cancelled") else status
    progress = data.get("progress")
    return Generation.parse(
        {
            "id": data["id"],
            "status": word,
            "error": data.get("error"),
            "meta": {"progress": progress} if isinstance(progress, int | float) else {},
        }
    )


def generation_id_of(generation: Generation | str) -> str:
    return generation.id if isinstance(generation, Generation) else generation


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise APIError(
            f"the server answered {response.status_code} with a body that is not JSON",
            status_code=response.status_code,
        ) from exc


def _generation(response: httpx.Response) -> Generation:
    body = _json(response)
    try:
        return Generation.parse(body if isinstance(body, dict) else {})
    except ValueError as exc:
        raise APIError(str(exc), status_code=response.status_code) from exc


#: Gateways not known to honour Idempotency-Key: a create there is never retried blindly.
NON_IDEMPOTENT_GATEWAYS = ("aimlapi.com", "apilaplas.com")


class Api:
    """The plans for every operation, bound to one server, key and set of policies."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        retry: RetryPolicy,
        poll: PollPolicy,
        clock: Clock,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.retry = retry
        self.poll = poll
        self.clock = clock
        self.user_agent = user_agent

    @classmethod
    def configure(
        cls,
        api_key: str | None,
        base_url: str | None,
        *,
        retry: RetryPolicy | None,
        poll: PollPolicy | None,
        clock: Clock | None,
    ) -> Api:
        """An ``Api`` with the environment's base URL and key (see ``config``) where not given."""
        url = resolve_base_url(base_url)
        return cls(
            url,
            resolve_api_key(api_key, url),
            retry=retry or RetryPolicy(),
            poll=poll or PollPolicy(),
            clock=clock or SystemClock(),
        )

    # -- requests --------------------------------------------------------------------------

    @property
    def idempotent_creates(self) -> bool:
        """Whether creates carry an ``Idempotency-Key`` and may therefore be retried after an
        ambiguous failure (a 500, a dropped connection). vidgen honours the header; the public
        gateways are not known to, so there a create is never retried once it may have landed."""
        host = httpx.URL(self.base_url).host
        return not any(host == g or host.endswith("." + g) for g in NON_IDEMPOTENT_GATEWAYS)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Request:
        headers = {
            "User-Agent": self.user_agent,
            "Accept": "application/json",
            **(extra_headers or {}),
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return httpx.Request(
            method, self.base_url + path, params=query or None, json=json, headers=headers
        )

    def call(self, request: httpx.Request, *, idempotent: bool = True) -> Plan[httpx.Response]:
        """Send ``request``, retrying transient failures per the ``RetryPolicy``; a 2xx comes
        back, anything else is raised as its typed ``APIError``."""
        retryable = RETRYABLE_STATUSES if idempotent else CREATE_RETRYABLE_STATUSES
        attempt = 0
        while True:
            try:
                response: httpx.Response = yield Send(request)
            except httpx.TransportError as exc:
                if attempt >= self.retry.max_retries or not (
                    idempotent or isinstance(exc, UNSENT_ERRORS)
                ):
                    raise APIConnectionError(f"{request.method} {request.url}: {exc!r}") from exc
                delay = self.retry.delay(attempt)
            else:
                if response.is_success:
                    return response
                error = error_from_response(response, key_given=bool(self.api_key))
                hinted = retry_after_seconds(response)
                if (
                    response.status_code not in retryable
                    or attempt >= self.retry.max_retries
                    or (hinted is not None and hinted > self.retry.max_retry_after)
                ):
                    raise error
                delay = hinted if hinted is not None else self.retry.delay(attempt)
            attempt += 1
            yield Sleep(delay)

    # -- operations ------------------------------------------------------------------------

    def create(
        self, *, idempotency_key: str | None = None, **options: Unpack[CreateOptions]
    ) -> Plan[Generation]:
        body = create_body(options)
        # One key per create call, reused by its own retries: the server then stores and charges
        # the generation once however often the request is repeated.
        key = idempotency_key or (uuid.uuid4().hex if self.idempotent_creates else None)
        headers = {"Idempotency-Key": key} if key else None
        request = self.request("POST", GENERATIONS_PATH, json=body, extra_headers=headers)
        return _generation((yield from self.call(request, idempotent=key is not None)))

    def get(self, generation_id: str) -> Plan[Generation]:
        request = self.request("GET", GENERATIONS_PATH, params={"generation_id": generation_id})
        return _generation((yield from self.call(request)))

    def cancel(self, generation_id: str) -> Plan[Generation]:
        # Cancelling twice is harmless (a finished generation is left as it is): retry freely.
        request = self.request("DELETE", GENERATIONS_PATH, params={"generation_id": generation_id})
        return _generation((yield from self.call(request)))

    def list(
        self, *, limit: int | None, after: str | None, status: str | None
    ) -> Plan[GenerationPage]:
        params = {"limit": limit, "after": after, "status": status}
        body = _json((yield from self.call(self.request("GET", GENERATIONS_PATH, params=params))))
        return GenerationPage.parse(body if isinstance(body, dict) else {})

    def models(self) -> Plan[builtins.list[Model]]:
        return parse_models(_json((yield from self.call(self.request("GET", MODELS_PATH)))))

    def wait(
        self,
        generation_id: str,
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        follow: bool = False,
    ) -> Plan[Generation]:
        """Poll until the generation is final: return it when completed, raise
        ``GenerationFailed`` when it ended in error, ``Timeout`` when ``timeout`` runs out.

        Transient failures (the statuses in ``RETRYABLE_STATUSES``, connection errors) do not end
        the wait: it backs off (or honours ``Retry-After``) and polls the same id again, until the
        deadline. Other errors (401, 404…) are raised at once.

        ``follow``: first follow the server's event stream, where it has one (vidgen's
        ``/v1/generations/{id}/events``), reporting each change as it happens; the polls below
        then only read the final state (with its video link) or take over when the stream is
        not there or breaks.
        """
        start = self.clock.monotonic()
        deadline = None if timeout is None else start + timeout
        last: Generation | None = None
        if follow and self.idempotent_creates:  # the public gateways have no event stream
            reported: list[Generation] = []

            def on_event(data: dict[str, Any]) -> Generation | None:
                generation = _event_generation(data)
                if generation is None:
                    return None
                if reported and (reported[-1].status, reported[-1].progress) == (
                    generation.status,
                    generation.progress,
                ):
                    return None
                reported.append(generation)
                return generation

            read_timeout = LISTEN_READ_TIMEOUT
            if deadline is not None:
                read_timeout = max(0.1, min(read_timeout, deadline - start))
            events = self.request(
                "GET",
                f"/v1/generations/{generation_id}/events",
                extra_headers={"Accept": "text/event-stream"},
            )
            # A broken stream (or one that is not SSE, or not JSON): the polls below take over.
            with contextlib.suppress(httpx.HTTPError, ValueError):
                yield Listen(events, on_event, on_progress, read_timeout)
            last = reported[-1] if reported else None
        request = self.request("GET", GENERATIONS_PATH, params={"generation_id": generation_id})
        interval = self.poll.initial
        failures = 0
        while True:
            hinted: float | None = None
            try:
                response: httpx.Response = yield Send(request)
            except httpx.TransportError:
                delay = self.retry.delay(failures)
                failures += 1
            else:
                hinted = retry_after_seconds(response)
                if response.status_code in RETRYABLE_STATUSES:
                    delay = self.retry.delay(failures)
                    failures += 1
                elif not response.is_success:
                    raise error_from_response(response, key_given=bool(self.api_key))
                else:
                    failures = 0
                    generation = _generation(response)
                    changed = last is None or (last.status, last.progress) != (
                        generation.status,
                        generation.progress,
                    )
                    last = generation
                    if changed and on_progress is not None:
                        yield Report(on_progress, generation)
                    if generation.succeeded:
                        return generation
                    if generation.is_final:
                        raise GenerationFailed(generation)
                    delay = interval
                    interval = self.poll.next_interval(interval)
            if hinted is not None:
                delay = max(delay, hinted)
            if deadline is not None:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    raise Timeout(generation_id, self.clock.monotonic() - start, last)
                # Sleep no further than the deadline, then poll once more before giving up.
                delay = min(delay, remaining)
            yield Sleep(delay)

    def download(self, target: Generation | str, path: str | os.PathLike[str]) -> Plan[Path]:
        """Stream the video to ``path``; see ``Client.download``."""
        generation: Generation | None = None
        if isinstance(target, Generation):
            generation = target
        elif not target.lower().startswith(("http://", "https://")):
            generation = yield from self.get(target)
        url = self._video_url(generation) if generation is not None else str(target)
        sink = PartialFile(Path(path))
        attempt = 0
        refreshed = False
        try:
            while True:
                headers = {"User-Agent": self.user_agent, **sink.request_headers()}
                # No Authorization header: the link is signed, and it may point at another host.
                try:
                    yield Stream(httpx.Request("GET", url, headers=headers), sink)
                    return sink.finish()
                except LinkRefused:
                    # Signed links expire (24 h on vidgen): a fresh poll gives a fresh one, once.
                    if generation is None or refreshed:
                        raise
                    refreshed = True
                    generation = yield from self.get(generation.id)
                    url = self._video_url(generation)
                except (httpx.TransportError, RetryableDownload) as exc:
                    if attempt >= self.retry.max_retries:
                        if isinstance(exc, DownloadError):
                            raise
                        raise DownloadError(f"the download failed: {exc!r}") from exc
                    yield Sleep(self.retry.delay(attempt))
                    attempt += 1
        finally:
            sink.discard()

    def _video_url(self, generation: Generation) -> str:
        if generation.video is None:
            raise DownloadError(
                f"generation {generation.id} has no video (status: {generation.status})"
            )
        url = generation.video.url
        # A relative link is taken to be relative to the server.
        return url if "://" in url else self.base_url + "/" + url.lstrip("/")
