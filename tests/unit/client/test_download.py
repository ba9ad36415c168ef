"""``download``: streamed to disk, checked, resumed after a break, refreshed when the signed link
has expired, and never left half-written."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.unit.client.conftest import BASE, EXACT_RETRY, KEY, FakeClock, completed, poll
from vidgen.client import AsyncClient, Client, DownloadError, Generation

VIDEO = bytes(range(256)) * 400  # 100 KiB standing in for an MP4
LINK = "http://files.test/videos/gen-1.mp4?_jwt=old"
FRESH = "http://files.test/videos/gen-1.mp4?_jwt=fresh"


class BreaksAfter(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that sends ``size`` bytes, then the connection drops."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.size]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data[: self.size]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def whole(data: bytes = VIDEO) -> httpx.Response:
    return httpx.Response(200, content=data, headers={"Content-Type": "video/mp4"})


def sdk(handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock) -> Client:
    return Client(
        KEY, base_url=BASE, transport=httpx.MockTransport(handler), retry=EXACT_RETRY, clock=clock
    )


class Files:
    """A file host and the API, answering from scripts; records what was asked."""

    def __init__(
        self, *downloads: httpx.Response, polls: list[httpx.Response] | None = None
    ) -> None:
        self.downloads = list(downloads)
        self.polls = polls or []
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host == "files.test":
            return self.downloads.pop(0)
        return self.polls.pop(0)


def done(url: str = LINK) -> Generation:
    return Generation.parse(completed(url=url).json())


def test_a_video_is_streamed_to_the_path_without_sending_the_api_key(
    tmp_path: Path, clock: FakeClock
) -> None:
    files = Files(whole())
    target = tmp_path / "out" / "clip.mp4"
    assert sdk(files, clock).download(done(), target) == target
    assert target.read_bytes() == VIDEO
    assert list(target.parent.iterdir()) == [target]
    request = files.seen[0]
    assert str(request.url) == LINK
    assert "authorization" not in request.headers  # the link is signed; it may be another host
    assert "range" not in request.headers


def test_a_short_download_is_refused_and_leaves_no_file(tmp_path: Path, clock: FakeClock) -> None:
    short = httpx.Response(200, content=VIDEO[:1000], headers={"Content-Length": str(len(VIDEO))})
    target = tmp_path / "clip.mp4"
    with pytest.raises(DownloadError, match=f"1000 of {len(VIDEO)} bytes"):
        sdk(Files(short), clock).download(done(), target)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_transfer_resumes_where_it_stopped(tmp_path: Path, clock: FakeClock) -> None:
    first = httpx.Response(
        200, stream=BreaksAfter(VIDEO, 30_000), headers={"Content-Length": str(len(VIDEO))}
    )
    rest = httpx.Response(
        206,
        content=VIDEO[30_000:],
        headers={"Content-Range": f"bytes 30000-{len(VIDEO) - 1}/{len(VIDEO)}"},
    )
    files = Files(first, rest)
    target = sdk(files, clock).download(done(), tmp_path / "clip.mp4")
    assert target.read_bytes() == VIDEO
    assert files.seen[1].headers["range"] == "bytes=30000-"
    assert clock.sleeps == [0.5]


def test_a_host_that_ignores_range_gets_the_file_from_the_start(
    tmp_path: Path, clock: FakeClock
) -> None:
    first = httpx.Response(200, stream=BreaksAfter(VIDEO, 30_000))
    files = Files(first, whole())
    target = sdk(files, clock).download(done(), tmp_path / "clip.mp4")
    assert target.read_bytes() == VIDEO


def test_an_expired_link_is_refreshed_once_by_polling_the_generation(
    tmp_path: Path, clock: FakeClock
) -> None:
    files = Files(
        httpx.Response(403, json={"error": "expired"}), whole(), polls=[completed(url=FRESH)]
    )
    target = sdk(files, clock).download(done(), tmp_path / "clip.mp4")
    assert target.read_bytes() == VIDEO
    assert [str(r.url) for r in files.seen] == [
        LINK,
        f"{BASE}/v2/video/generations?generation_id=gen-1",
        FRESH,
    ]


def test_a_link_refused_twice_is_a_download_error(tmp_path: Path, clock: FakeClock) -> None:
    files = Files(httpx.Response(403), httpx.Response(403), polls=[completed(url=FRESH)])
    with pytest.raises(DownloadError, match="refused"):
        sdk(files, clock).download(done(), tmp_path / "clip.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_download_by_id_polls_for_the_link_and_a_url_is_fetched_as_is(
    tmp_path: Path, clock: FakeClock
) -> None:
    files = Files(whole(), whole(b"\x00\x00\x00\x18ftypmp42"), polls=[completed()])
    client = sdk(files, clock)
    assert client.download("gen-1", tmp_path / "a.mp4").read_bytes() == VIDEO
    assert client.download(FRESH, tmp_path / "b.mp4").read_bytes().endswith(b"ftypmp42")
    assert [r.url.host for r in files.seen] == ["vidgen.test", "files.test", "files.test"]


def test_a_generation_without_a_video_cannot_be_downloaded(
    tmp_path: Path, clock: FakeClock
) -> None:
    files = Files(polls=[poll("generating", progress=0.5)])
    with pytest.raises(DownloadError, match="has no video"):
        sdk(files, clock).download("gen-1", tmp_path / "clip.mp4")


async def test_the_async_client_downloads_and_resumes_too(tmp_path: Path, clock: FakeClock) -> None:
    first = httpx.Response(
        200, stream=BreaksAfter(VIDEO, 50_000), headers={"Content-Length": str(len(VIDEO))}
    )
    rest = httpx.Response(
        206, content=VIDEO[50_000:], headers={"Content-Range": f"bytes 50000-{len(VIDEO) - 1}/*"}
    )
    files = Files(first, rest)
    async with AsyncClient(
        KEY, base_url=BASE, transport=httpx.MockTransport(files), retry=EXACT_RETRY, clock=clock
    ) as client:
        target = await client.download(done(), tmp_path / "clip.mp4")
    assert target.read_bytes() == VIDEO
