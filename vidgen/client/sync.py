"""``Client``: the blocking SDK. Every method runs a plan from ``protocol`` with httpx."""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, Unpack

import httpx
from httpx_sse import connect_sse

from vidgen.client.config import (
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT,
    Clock,
    PollPolicy,
    RetryPolicy,
)
from vidgen.client.create import CreateOptions, create_options
from vidgen.client.protocol import (
    Api,
    Driver,
    Listen,
    Plan,
    ProgressCallback,
    Report,
    Send,
    Sleep,
    Step,
    generation_id_of,
)
from vidgen.client.types import Generation, GenerationPage, Model

__all__ = ["Client", "Generations", "Models"]

T = TypeVar("T")


class Client:
    """A blocking client for vidgen, or any aimlapi-compatible video API.

    ``base_url`` defaults to ``VIDGEN_BASE_URL`` (else ``http://127.0.0.1:8000``) and ``api_key``
    to ``VIDGEN_API_KEY`` (or ``AIMLAPI_KEY`` against ``https://api.aimlapi.com``). Use it as a
    context manager, or call ``close()``, to release its connections.

    Example::

        from vidgen.client import Client

        with Client(api_key="vg_…") as client:
            video = client.generations.generate(
                image="mountain.png", prompt="slow zoom in on the summit", duration=5
            )
            client.download(video, "summit.mp4")

    ``transport`` or ``http_client`` replace the network (``httpx.MockTransport`` in tests);
    ``clock`` replaces time and sleep.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._api = Api.configure(api_key, base_url, retry=retry, poll=poll, clock=clock)
        self.base_url = self._api.base_url
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, transport=transport)
        self.generations = Generations(self)
        self.models = Models(self)

    def download(self, generation: Generation | str, path: str | os.PathLike[str]) -> Path:
        """Save a completed generation's MP4 at ``path`` and return that path.

        ``generation`` is a ``Generation``, its id (polled first for its link), or the video URL.
        The file is streamed to ``path + ".part"``, resumed with a Range request if the transfer
        breaks, checked against the announced length, and only then renamed to ``path``. An
        expired link is refreshed once by polling the generation again.

        Example::

            video = client.generations.wait(generation_id)
            client.download(video, "out.mp4")

        Raises ``DownloadError`` when the generation has no video or the file cannot be had
        intact.
        """
        return self._run(self._api.download(generation, path))

    def close(self) -> None:
        """Close the connections (only those of an ``httpx.Client`` this client made)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The plan runner: perform each step, hand its outcome (or its error) back to the plan.
    def _run(self, plan: Plan[T]) -> T:
        with Driver(plan) as driver:
            while (step := driver.next_step()) is not None:
                try:
                    driver.outcome = self._perform(step)
                except Exception as exc:  # the plan decides: retry, or raise its typed error
                    driver.error = exc
            return driver.result

    def _perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            return self._http.send(step.request)
        if isinstance(step, Listen):
            return self._listen(step)
        if isinstance(step, Sleep):
            self._api.clock.sleep(step.seconds)
        elif isinstance(step, Report):
            step.callback(step.generation)
        else:
            response = self._http.send(step.request, stream=True, follow_redirects=True)
            try:
                step.sink.begin(response)
                for chunk in response.iter_bytes():
                    step.sink.write(chunk)
            finally:
                response.close()
        return None

    def _listen(self, step: Listen) -> Generation | None:
        timeout = httpx.Timeout(self._http.timeout.connect, read=step.read_timeout)
        request = step.request
        with connect_sse(
            self._http, request.method, str(request.url), headers=request.headers, timeout=timeout
        ) as source:
            if source.response.status_code != 200:
                return None
            for event in source.iter_sse():
                changed = step.changed(event.data)
                if changed is None:
                    continue
                if step.on_progress is not None:
                    step.on_progress(changed)
                if changed.is_final:
                    return changed
        return None


class Generations:
    """``client.generations``: create, poll, wait for, list and cancel generations."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @create_options
    def create(
        self, *, idempotency_key: str | None = None, **options: Unpack[CreateOptions]
    ) -> Generation:
        """Submit a generation and return at once with its id (status ``queued``).

        What it makes follows from the inputs: a ``prompt`` alone is text to video, an
        ``image`` image to video, a ``video`` video to video.

        ``image`` (the first frame) and ``tail_image`` (the last) may each be an https URL, a
        data URI, a local path, ``bytes`` or a PIL image; all but URLs are sent as data URIs.
        ``video`` (``video_url``) is an https URL, a data URI, a local path or ``bytes`` (MP4,
        QuickTime or WebM); inline, it counts against the server's request-size cap (vidgen:
        16 MiB by default), so a larger one goes by URL. ``references`` is a list of images in
        any of the image forms, sent as ``[{"type": "image", "url": …}]``, for a model that takes
        reference images (``max_references``; the default models take none).

        ``character`` and ``performance`` make a character performance (``runway/act_two`` by
        default): the character is an image or a video in any of the forms above (sent as
        ``character`` ``{"type", "url"}``, the type told by its bytes, its data URI's media type
        or its URL's extension), the performance is the video that drives it (sent as
        ``reference``), and the output is as long as the performance. ``body_control`` (move
        the body too) and ``expression_intensity`` (1 to 5) are act_two's options. With a
        ``video``, ``resolution`` (``720p``, ``1k``, ``2k``, ``4k``) upscales it
        (``magnific/video_upscaler_creative`` by default) and ``target_framerate`` (``"60"``,
        ``"29_97"``…) changes its frame rate (``runway/enhance_frame_rate`` by default);
        ``resolution`` is Veo 3.1's option too. Other options of a model go in ``extra_body``.

        ``model`` left out (None) is the default for the inputs (above for a character, a
        ``resolution`` or a ``target_framerate``): ``runway/aleph2`` with a video,
        ``runway/gen4_turbo`` (``DEFAULT_MODEL``) with an image, ``runway/gen4.5`` for a prompt
        alone. Left out, ``aspect_ratio`` is detected from the image (within 0.5…2) or is the
        nearest to the video's shape, ``duration`` is the model's default (5 s; a video to video is as long as its input) and
        ``seed`` is random. ``extra_body`` adds fields for services that take more.

        Example::

            created = client.generations.create(
                image="https://example.com/summit.jpg",
                prompt="a dragon rushes toward the camera",
                aspect_ratio="16:9", duration=10, seed=42,
            )
            print(created.id)
            restyled = client.generations.create(video="clip.mp4", prompt="in watercolour")
            acted = client.generations.create(
                character="portrait.png", performance="take3.mp4", expression_intensity=4
            )
            sharper = client.generations.create(video="clip.mp4", resolution="4k")

        Raises ``ValidationError`` (with ``fields``), ``AuthenticationError`` or
        ``InsufficientCredits``. Against vidgen every create carries an ``Idempotency-Key``
        (``idempotency_key``, or a fresh one), so it is retried safely even after a 500 or a
        dropped connection: the server stores and charges it once. Against the public gateways
        it is not retried once it may have landed, so a retry never pays twice.
        """
        plan = self._client._api.create(idempotency_key=idempotency_key, **options)
        return self._client._run(plan)

    def get(self, generation_id: str) -> Generation:
        """Poll a generation once.

        Example::

            generation = client.generations.get("6f1c…")
            print(generation.status, generation.progress)

        Raises ``NotFound`` for an unknown id (or another key's generation).
        """
        return self._client._run(self._client._api.get(generation_id))

    def wait(
        self,
        generation: Generation | str,
        *,
        timeout: float | None = DEFAULT_WAIT,
        on_progress: ProgressCallback | None = None,
        follow: bool = False,
    ) -> Generation:
        """Poll until the generation is final and return it, completed.

        ``follow=True`` follows the server's event stream instead where it has one (vidgen's
        ``GET /v1/generations/{id}/events``): every change is reported as it happens, with no
        polling, and the wait falls back to polling when the stream is not there or breaks.

        Polls every 0.5 s at first, growing to every 5 s (``PollPolicy``), and longer when the
        server asks with ``Retry-After``. Transient failures (429, 5xx, connection errors) are
        ridden out until ``timeout`` (seconds; None waits for ever). ``on_progress`` is called
        with the ``Generation`` each time its status or progress changes, including the last.

        Example::

            done = client.generations.wait(
                created, timeout=300,
                on_progress=lambda g: print(g.status, f"{(g.progress or 0):.0%}"),
            )

        Raises ``GenerationFailed`` (``name``, ``message``) if it ends in error or is cancelled,
        and ``Timeout`` if ``timeout`` runs out (the generation itself goes on).
        """
        plan = self._client._api.wait(
            generation_id_of(generation), timeout=timeout, on_progress=on_progress, follow=follow
        )
        return self._client._run(plan)

    @create_options
    def generate(
        self,
        *,
        timeout: float | None = DEFAULT_WAIT,
        on_progress: ProgressCallback | None = None,
        **options: Unpack[CreateOptions],
    ) -> Generation:
        """``create`` then ``wait``: the completed generation, ready for ``client.download``.

        Example::

            video = client.generations.generate(image="cat.png", prompt="the cat yawns")
            client.download(video, "cat.mp4")
            clip = client.generations.generate(prompt="a lighthouse at dusk")  # text to video
            smooth = client.generations.generate(video="clip.mp4", target_framerate="60")
        """
        created = self.create(**options)
        return self.wait(created, timeout=timeout, on_progress=on_progress)

    def list(
        self, *, limit: int | None = None, after: str | None = None, status: str | None = None
    ) -> GenerationPage:
        """One page of this key's generations, newest first (a vidgen extension).

        ``status`` keeps only ``queued``, ``generating``, ``completed`` or ``error`` ones;
        ``after`` is the previous page's ``next_cursor``; ``limit`` is 1…100 (server default 20).

        Example::

            page = client.generations.list(limit=10, status="completed")
            for generation in page:
                print(generation.id, generation.created_at)
            if page.has_more:
                page = client.generations.list(limit=10, after=page.next_cursor)
        """
        return self._client._run(self._client._api.list(limit=limit, after=after, status=status))

    def iterate(
        self, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[Generation]:
        """Every generation of this key, newest first, fetching page after page as needed.

        Example::

            failed = [g.id for g in client.generations.iterate(status="error")]
        """
        after: str | None = None
        while True:
            page = self.list(limit=page_size, after=after, status=status)
            yield from page.data
            if not page.has_more or not page.next_cursor:
                return
            after = page.next_cursor

    def cancel(self, generation: Generation | str) -> Generation:
        """Cancel a generation (a vidgen extension) and return its state.

        A queued one ends at once (status ``error``, error name ``Cancelled``) and is refunded; a
        running one stops at its engine's next check, reading ``generating`` until then. A
        finished one is left as it is.

        Example::

            client.generations.cancel("6f1c…")
        """
        return self._client._run(self._client._api.cancel(generation_id_of(generation)))


class Models:
    """``client.models``: what the server offers."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> builtins.list[Model]:
        """The models, with their aspect ratios (and frame sizes), durations and prices.

        Example::

            for model in client.models.list():
                print(model.id, sorted(model.aspect_ratios), model.credits)
        """
        return self._client._run(self._client._api.models())
