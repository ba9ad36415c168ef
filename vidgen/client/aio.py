"""``AsyncClient``: the asyncio SDK. It runs the same plans as ``Client``, with ``await``."""

from __future__ import annotations

import asyncio
import builtins
import inspect
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar, Unpack

import httpx
from httpx_sse import aconnect_sse

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

__all__ = ["AsyncClient", "AsyncGenerations", "AsyncModels"]

T = TypeVar("T")


class AsyncClient:
    """The asyncio twin of ``Client``: the same methods, awaited. ``on_progress`` may be a
    plain function or a coroutine function.

    Example::

        import asyncio
        from vidgen.client import AsyncClient

        async def main() -> None:
            async with AsyncClient() as client:
                jobs = [
                    await client.generations.create(image="a.png", prompt=prompt)
                    for prompt in ("zoom in", "pan left")
                ]
                done = await asyncio.gather(*(client.generations.wait(j) for j in jobs))
                for video in done:
                    await client.download(video, f"{video.id}.mp4")

        asyncio.run(main())
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._api = Api.configure(api_key, base_url, retry=retry, poll=poll, clock=clock)
        self.base_url = self._api.base_url
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)
        self.generations = AsyncGenerations(self)
        self.models = AsyncModels(self)

    async def download(self, generation: Generation | str, path: str | os.PathLike[str]) -> Path:
        """Save a completed generation's MP4 at ``path``; see ``Client.download``.

        Example::

            await client.download(video, "out.mp4")
        """
        return await self._run(self._api.download(generation, path))

    async def aclose(self) -> None:
        """Close the connections (only those of an ``httpx.AsyncClient`` this client made)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _run(self, plan: Plan[T]) -> T:
        with Driver(plan) as driver:
            while (step := driver.next_step()) is not None:
                try:
                    driver.outcome = await self._perform(step)
                except Exception as exc:  # the plan decides: retry, or raise its typed error
                    driver.error = exc
            return driver.result

    async def _perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            return await self._http.send(step.request)
        if isinstance(step, Listen):
            return await self._listen(step)
        if isinstance(step, Sleep):
            await self._api.clock.sleep_async(step.seconds)
        elif isinstance(step, Report):
            result = step.callback(step.generation)
            if inspect.isawaitable(result):
                await result
        else:
            response = await self._http.send(step.request, stream=True, follow_redirects=True)
            try:
                step.sink.begin(response)
                async for chunk in response.aiter_bytes():
                    # File writes go to a thread so that a slow disk never stalls the loop.
                    await asyncio.to_thread(step.sink.write, chunk)
            finally:
                await response.aclose()
        return None

    async def _listen(self, step: Listen) -> Generation | None:
        timeout = httpx.Timeout(self._http.timeout.connect, read=step.read_timeout)
        request = step.request
        async with aconnect_sse(
            self._http, request.method, str(request.url), headers=request.headers, timeout=timeout
        ) as source:
            if source.response.status_code != 200:
                return None
            async for event in source.aiter_sse():
                changed = step.changed(event.data)
                if changed is None:
                    continue
                if step.on_progress is not None:
                    result = step.on_progress(changed)
                    if inspect.isawaitable(result):
                        await result
                if changed.is_final:
                    return changed
        return None


class AsyncGenerations:
    """``client.generations`` of an ``AsyncClient``; each method is ``Generations``' twin."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @create_options
    async def create(
        self, *, idempotency_key: str | None = None, **options: Unpack[CreateOptions]
    ) -> Generation:
        """Submit a generation; see ``Generations.create``.

        Example::

            created = await client.generations.create(image="cat.png", prompt="the cat yawns")
            restyled = await client.generations.create(video="clip.mp4", prompt="in watercolour")
        """
        plan = self._client._api.create(idempotency_key=idempotency_key, **options)
        return await self._client._run(plan)

    async def get(self, generation_id: str) -> Generation:
        """Poll a generation once; see ``Generations.get``.

        Example::

            generation = await client.generations.get("6f1c…")
        """
        return await self._client._run(self._client._api.get(generation_id))

    async def wait(
        self,
        generation: Generation | str,
        *,
        # Not asyncio.timeout: on running out, wait raises Timeout carrying the last status.
        timeout: float | None = DEFAULT_WAIT,  # noqa: ASYNC109
        on_progress: ProgressCallback | None = None,
        follow: bool = False,
    ) -> Generation:
        """Poll (or with ``follow``, follow the event stream) until final and return the
        completed generation; see ``Generations.wait``.

        Example::

            done = await client.generations.wait(created, on_progress=print)
        """
        plan = self._client._api.wait(
            generation_id_of(generation), timeout=timeout, on_progress=on_progress, follow=follow
        )
        return await self._client._run(plan)

    @create_options
    async def generate(
        self,
        *,
        timeout: float | None = DEFAULT_WAIT,  # noqa: ASYNC109 (as in wait)
        on_progress: ProgressCallback | None = None,
        **options: Unpack[CreateOptions],
    ) -> Generation:
        """``create`` then ``wait``; see ``Generations.generate``.

        Example::

            video = await client.generations.generate(image="cat.png", prompt="the cat yawns")
        """
        created = await self.create(**options)
        return await self.wait(created, timeout=timeout, on_progress=on_progress)

    async def list(
        self, *, limit: int | None = None, after: str | None = None, status: str | None = None
    ) -> GenerationPage:
        """One page of this key's generations, newest first; see ``Generations.list``.

        Example::

            page = await client.generations.list(status="completed")
        """
        return await self._client._run(
            self._client._api.list(limit=limit, after=after, status=status)
        )

    async def iterate(
        self, *, status: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Generation]:
        """Every generation of this key, newest first, page after page.

        Example::

            async for generation in client.generations.iterate(status="error"):
                print(generation.id)
        """
        after: str | None = None
        while True:
            page = await self.list(limit=page_size, after=after, status=status)
            for generation in page.data:
                yield generation
            if not page.has_more or not page.next_cursor:
                return
            after = page.next_cursor

    async def cancel(self, generation: Generation | str) -> Generation:
        """Cancel a generation; see ``Generations.cancel``.

        Example::

            await client.generations.cancel("6f1c…")
        """
        return await self._client._run(self._client._api.cancel(generation_id_of(generation)))


class AsyncModels:
    """``client.models`` of an ``AsyncClient``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self) -> builtins.list[Model]:
        """The models the server offers; see ``Models.list``.

        Example::

            models = await client.models.list()
        """
        return await self._client._run(self._client._api.models())
