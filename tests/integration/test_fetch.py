"""SafeFetcher against real servers on loopback: redirects, caps, timeouts, TLS, pinning.

No httpx mocks: every test talks to a small asyncio HTTP/1.1 server on 127.0.0.x. Made-up host
names reach it through an injected resolver, and only the test server's own address is allowed
(``allowed_networks``), so a redirect to any other loopback address is still refused. Where a
test checks a refusal, the refused target is a live server too, and must see no request: a
broken guard would reach it and the test would fail.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest
import trustme

from vidgen.media.addresses import IPAddress
from vidgen.media.capture import fetch_image_source
from vidgen.media.data_uri import InvalidDataUri, parse_data_uri
from vidgen.media.fetch import (
    FetchError,
    FetchFailed,
    FetchPolicy,
    FetchRefused,
    SafeFetcher,
)

MiB = 1024 * 1024
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


# --- a tiny HTTP server -------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    body: bytes


Route = Callable[[Received, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    routes: dict[str, Route]
    host: str = "127.0.0.1"
    port: int = 0
    tls: ssl.SSLContext | None = None
    received: list[Received] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str = "/", host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    @property
    def paths(self) -> list[str]:
        return [r.target for r in self.received]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:  # until the client hangs up: keep-alive routes leave the line open
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, target, _ = head[0].split(" ", 2)
                headers = {}
                for line in head[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Received(method, target, headers, body)
                self.received.append(request)
                route = self.routes.get(target.split("?")[0], reply(404, b"not found"))
                await route(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


@contextlib.asynccontextmanager
async def serve(
    routes: dict[str, Route],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Server]:
    server = Server(routes, host=host, tls=tls)
    listener = await asyncio.start_server(server._handle, host, port, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for task in list(server._tasks):  # servers that stall forever are stopped here
            task.cancel()
        await asyncio.gather(*server._tasks, return_exceptions=True)
        await listener.wait_closed()


def _head(status: int, headers: Iterable[tuple[str, str]], *, keep_alive: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever"] + ([] if keep_alive else ["Connection: close"])
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(
    status: int = 200,
    body: bytes = PNG,
    headers: Sequence[tuple[str, str]] = (),
    *,
    keep_alive: bool = False,
) -> Route:
    async def route(request: Received, writer: asyncio.StreamWriter) -> None:
        head = [("Content-Length", str(len(body))), *headers]
        writer.write(_head(status, head, keep_alive=keep_alive) + body)
        await writer.drain()

    return route


def redirect(location: str, status: int = 302) -> Route:
    return reply(status, b"", [("Location", location)])


def endless(counter: list[int]) -> Route:
    """A body with no length that never ends; ``counter[0]`` counts the bytes sent."""

    async def route(request: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, [("Content-Type", "image/png")]))
        chunk = b"\0" * 65536
        while True:
            writer.write(chunk)
            await writer.drain()
            counter[0] += len(chunk)

    return route


def stall(headers_first: bool, *, length: int | None = None) -> Route:
    async def route(request: Received, writer: asyncio.StreamWriter) -> None:
        if headers_first:
            size = [("Content-Length", str(length))] if length is not None else []
            writer.write(_head(200, size) + b"\x89PNG")
            await writer.drain()
        await asyncio.sleep(3600)

    return route


def drip(interval: float) -> Route:
    async def route(request: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, []))
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(interval)

    return route


# --- fetchers -----------------------------------------------------------------------------------


def fake_dns(table: dict[str, Sequence[str]]) -> Callable[[str, int], Awaitable[list[IPAddress]]]:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ip_address(a) for a in table[host]]

    return resolve


DNS = {"images.example.test": ["127.0.0.1"], "other.example.test": ["127.0.0.2"]}
ONLY_TEST_SERVER = (ip_network("127.0.0.1/32"),)


def fetcher(
    *,
    allow_http: bool = True,
    dns: dict[str, Sequence[str]] = DNS,
    verify: ssl.SSLContext | bool = True,
    **policy: object,
) -> SafeFetcher:
    base = FetchPolicy(
        allow_http=allow_http,
        allowed_networks=ONLY_TEST_SERVER,
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=10.0,
    )
    return SafeFetcher(replace(base, **policy), resolver=fake_dns(dns), verify=verify)


@pytest.fixture
async def secret() -> AsyncIterator[Server]:
    """A live server on another loopback address, standing for an internal service."""
    async with serve({"/secret": reply(200, b"internal data")}, host="127.0.0.2") as server:
        yield server


# --- plain fetches, schemes and headers ---------------------------------------------------------


async def test_an_image_is_fetched_with_its_type_and_the_host_header_of_its_url() -> None:
    async with (
        serve({"/cat.png": reply(headers=[("Content-Type", "image/png; x=1")])}) as server,
        fetcher() as f,
    ):
        got = await f.get_bytes(server.url("/cat.png", "images.example.test"), max_bytes=MiB)
    assert (got.content, got.content_type) == (PNG, "image/png")
    assert got.final_url == server.url("/cat.png", "images.example.test")
    assert server.received[0].headers["host"] == f"images.example.test:{server.port}"
    assert server.received[0].headers["accept-encoding"] == "identity"


async def test_plain_http_is_refused_by_default_and_nothing_is_sent() -> None:
    async with serve({"/cat.png": reply()}) as server, fetcher(allow_http=False) as f:
        with pytest.raises(FetchRefused) as caught:
            await f.get_bytes(server.url("/cat.png", "images.example.test"), max_bytes=MiB)
    assert caught.value.reason == "scheme"
    assert server.received == []


async def test_a_url_with_credentials_is_refused_and_nothing_is_sent() -> None:
    async with serve({"/cat.png": reply()}) as server, fetcher() as f:
        url = f"http://user:pw@images.example.test:{server.port}/cat.png"
        with pytest.raises(FetchRefused, match="must not contain a user name or password"):
            await f.get_bytes(url, max_bytes=MiB)
    assert server.received == []


async def test_loopback_is_refused_unless_allowed(secret: Server) -> None:
    async with SafeFetcher(FetchPolicy(allow_http=True)) as f:
        with pytest.raises(FetchRefused, match=r"loopback address \(127\.0\.0\.2\)"):
            await f.get_bytes(secret.url("/secret"), max_bytes=MiB)
    assert secret.received == []
    async with SafeFetcher(FetchPolicy(allow_http=True, allow_private=True)) as f:
        assert (await f.get_bytes(secret.url("/secret"), max_bytes=MiB)).content == b"internal data"


async def test_the_request_goes_to_the_checked_address_not_to_a_second_dns_answer() -> None:
    # The system resolver says localhost is 127.0.0.1, where a decoy listens; the checked
    # answer says 127.0.0.2. Only a fetcher that connects to what it checked reaches the right one.
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(20):  # both servers need the same port; retry if 127.0.0.1 has it taken
            good = await stack.enter_async_context(
                serve({"/cat.png": reply(200, b"checked")}, host="127.0.0.2")
            )
            with contextlib.suppress(OSError):
                decoy = await stack.enter_async_context(
                    serve({"/cat.png": reply(200, b"decoy")}, port=good.port)
                )
                break
        policy = FetchPolicy(allow_http=True, allowed_networks=(ip_network("127.0.0.2/32"),))
        resolve = fake_dns({"localhost": ["127.0.0.2"]})
        async with SafeFetcher(policy, resolver=resolve) as f:
            got = await f.get_bytes(good.url("/cat.png", "localhost"), max_bytes=MiB)
    assert got.content == b"checked"
    assert decoy.received == []


async def test_proxy_settings_in_the_environment_are_ignored(
    secret: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect wherever it likes, undoing the address check: go direct, always.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, secret.url("/"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with serve({"/cat.png": reply()}) as server, fetcher() as f:
        await f.get_bytes(server.url("/cat.png", "images.example.test"), max_bytes=MiB)
    assert server.paths == ["/cat.png"]
    assert secret.received == []


async def test_cookies_from_one_fetch_are_never_sent_on_another() -> None:
    routes = {"/set": reply(headers=[("Set-Cookie", "session=abc; Path=/")]), "/next": reply()}
    async with serve(routes) as server, fetcher() as f:
        await f.get_bytes(server.url("/set"), max_bytes=MiB)
        await f.get_bytes(server.url("/next", "images.example.test"), max_bytes=MiB)
    assert "cookie" not in server.received[1].headers


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.2:{port}/secret",
        "http://2130706434:{port}/secret",  # 127.0.0.2 as one number
        "http://0x7f.0.0.2:{port}/secret",
        "http://127.0.2:{port}/secret",
        "http://[::ffff:127.0.0.2]:{port}/secret",
        "http://other.example.test:{port}/secret",  # a name that resolves to 127.0.0.2
    ],
)
async def test_a_redirect_to_loopback_is_refused(secret: Server, location: str) -> None:
    routes = {"/cat.png": redirect(location.format(port=secret.port))}
    async with serve(routes) as server, fetcher() as f:
        with pytest.raises(FetchRefused) as caught:
            await f.get_bytes(server.url("/cat.png"), max_bytes=MiB, subject="image")
    assert caught.value.reason == "address"
    assert caught.value.message.startswith("image URL redirect target")
    assert "loopback address" in caught.value.message
    assert secret.received == []


@pytest.mark.parametrize(
    "location",
    ["http://169.254.169.254/latest/meta-data/", "http://metadata.example.test/computeMetadata/"],
)
async def test_a_redirect_to_a_metadata_address_is_refused_even_when_private_is_allowed(
    location: str,
) -> None:
    dns = {**DNS, "metadata.example.test": ["169.254.169.254"]}
    routes = {"/cat.png": redirect(location)}
    lax = {"allow_private": True, "allowed_networks": (ip_network("0.0.0.0/0"),)}
    async with serve(routes) as server, fetcher(dns=dns, **lax) as f:
        with pytest.raises(FetchRefused, match=r"cloud metadata address"):
            await f.get_bytes(server.url("/cat.png"), max_bytes=MiB)


async def test_a_redirect_from_https_to_plain_http_is_refused(tls: Tls) -> None:
    async with (
        serve({"/x": reply()}) as plain,
        serve(
            {"/cat.png": redirect(plain.url("/x", "images.example.test"))}, tls=tls.server
        ) as server,
        fetcher(allow_http=False, verify=tls.client) as f,
    ):
        with pytest.raises(FetchRefused) as caught:
            await f.get_bytes(server.url("/cat.png", "images.example.test"), max_bytes=MiB)
    assert caught.value.reason == "scheme"
    assert plain.received == []


async def test_three_redirects_with_relative_locations_are_followed() -> None:
    routes = {
        "/a/b/start": redirect("next?step=1", 301),  # relative to the directory
        "/a/b/next": redirect("/c/d/e", 307),  # absolute path
        "/c/d/e": redirect("../final.png?x=1", 308),  # dot segments
        "/c/final.png": reply(),
    }
    async with serve(routes) as server, fetcher() as f:
        got = await f.get_bytes(server.url("/a/b/start", "images.example.test"), max_bytes=MiB)
    assert got.content == PNG
    assert got.final_url == server.url("/c/final.png?x=1", "images.example.test")
    assert server.paths == ["/a/b/start", "/a/b/next?step=1", "/c/d/e", "/c/final.png?x=1"]


async def test_a_fourth_redirect_is_refused() -> None:
    routes = {f"/r{i}": redirect(f"/r{i + 1}") for i in range(4)} | {"/r4": reply()}
    async with serve(routes) as server, fetcher() as f:
        with pytest.raises(FetchRefused, match="redirected more than 3 times") as caught:
            await f.get_bytes(server.url("/r0"), max_bytes=MiB, subject="image")
    assert caught.value.message == "image URL redirected more than 3 times"
    assert server.paths == ["/r0", "/r1", "/r2", "/r3"]


# --- size caps ----------------------------------------------------------------------------------


async def test_an_endless_body_is_cut_off_at_the_cap() -> None:
    sent = [0]
    async with serve({"/big.png": endless(sent)}) as server, fetcher() as f:
        with pytest.raises(FetchFailed) as caught:
            await asyncio.wait_for(
                f.get_bytes(server.url("/big.png"), max_bytes=MiB, subject="image"), 10
            )
    assert (caught.value.reason, caught.value.message) == ("too_large", "image is larger than 1 MB")
    assert sent[0] < 32 * MiB  # what the socket buffers took before the client hung up


async def test_a_content_length_over_the_cap_is_refused_before_reading_the_body() -> None:
    routes = {"/big.png": stall(headers_first=True, length=100 * MiB)}
    # The body never comes: a client that waited for it would fail with the read timeout (or
    # with wait_for's), not with the declared length.
    async with serve(routes) as server, fetcher(read_timeout=30.0) as f:
        with pytest.raises(FetchFailed) as caught:
            await asyncio.wait_for(
                f.get_bytes(server.url("/big.png"), max_bytes=16 * MiB, subject="image"), 20
            )
    assert caught.value.message == "image is larger than 16 MB"


async def test_stream_to_file_writes_the_body_and_removes_a_file_cut_off_at_the_cap(
    tmp_path: Path,
) -> None:
    sent = [0]
    routes = {"/out.mp4": reply(200, b"v" * 5000), "/huge.mp4": endless(sent)}
    async with serve(routes) as server, fetcher() as f:
        assert await f.stream_to_file(server.url("/out.mp4"), tmp_path / "a", max_bytes=MiB) == 5000
        with pytest.raises(FetchFailed, match="larger than 1 MB"):
            await f.stream_to_file(server.url("/huge.mp4"), tmp_path / "b", max_bytes=MiB)
    assert (tmp_path / "a").read_bytes() == b"v" * 5000
    assert not (tmp_path / "b").exists()


async def test_a_compressed_body_is_refused_rather_than_inflated() -> None:
    routes = {"/cat.png": reply(headers=[("Content-Encoding", "gzip")])}
    async with serve(routes) as server, fetcher() as f:
        with pytest.raises(FetchFailed) as caught:
            await f.get_bytes(server.url("/cat.png"), max_bytes=MiB)
    assert caught.value.reason == "encoding"


# --- timeouts and origin errors -----------------------------------------------------------------


@pytest.mark.parametrize("headers_first", [False, True], ids=["before-headers", "mid-body"])
async def test_a_slow_server_hits_the_read_timeout(headers_first: bool) -> None:
    async with (
        serve({"/slow.png": stall(headers_first, length=1000)}) as server,
        fetcher(read_timeout=0.3) as f,
    ):
        with pytest.raises(FetchFailed) as caught:
            # wait_for: if the read timeout were broken this test must fail, not hang.
            await asyncio.wait_for(
                f.get_bytes(server.url("/slow.png"), max_bytes=MiB, subject="image"), 5
            )
    assert caught.value.message == "image URL sent nothing for 0.3 s"
    assert caught.value.retryable


async def test_the_overall_deadline_stops_a_server_that_drips_bytes() -> None:
    async with (
        serve({"/drip.png": drip(0.05)}) as server,
        fetcher(read_timeout=2.0, total_timeout=0.5) as f,
    ):
        with pytest.raises(FetchFailed) as caught:
            await asyncio.wait_for(
                f.get_bytes(server.url("/drip.png"), max_bytes=MiB, subject="image"), 5
            )
    assert caught.value.message == "image URL took longer than 0.5 s"


@pytest.mark.parametrize(("status", "retryable"), [(404, False), (500, True), (429, True)])
async def test_an_origin_error_status_is_reported_with_its_code(
    status: int, retryable: bool
) -> None:
    async with serve({"/cat.png": reply(status, b"oops")}) as server, fetcher() as f:
        with pytest.raises(FetchFailed) as caught:
            await f.get_bytes(server.url("/cat.png"), max_bytes=MiB, subject="image")
    assert caught.value.message == f"image URL returned HTTP {status}"
    assert (caught.value.status_code, caught.value.retryable) == (status, retryable)


async def test_a_closed_port_is_a_retryable_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with fetcher() as f:
        with pytest.raises(FetchFailed) as caught:
            await f.get_bytes(f"http://127.0.0.1:{port}/", max_bytes=MiB, subject="image")
    assert caught.value.message == "could not connect to the image URL host"
    assert caught.value.retryable


# --- TLS through the pinned address -------------------------------------------------------------


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext
    sni: list[str | None]


def _tls_for(name: str) -> Tls:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(server_ctx)
    seen: list[str | None] = []
    server_ctx.sni_callback = lambda sock, server_name, ctx: seen.append(server_name)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return Tls(server_ctx, client_ctx, seen)


@pytest.fixture
def tls() -> Tls:
    return _tls_for("images.example.test")


async def test_https_works_through_the_pinned_address_with_sni_and_name_verification(
    tls: Tls,
) -> None:
    # The certificate names images.example.test only, not 127.0.0.1: the handshake succeeds
    # only if SNI and the certificate check use the URL's host name, not the pinned address.
    async with (
        serve({"/cat.png": reply()}, tls=tls.server) as server,
        fetcher(allow_http=False, verify=tls.client) as f,
    ):
        got = await f.get_bytes(server.url("/cat.png", "images.example.test"), max_bytes=MiB)
    assert got.content == PNG
    assert tls.sni == ["images.example.test"]
    assert server.received[0].headers["host"] == f"images.example.test:{server.port}"


async def test_a_certificate_for_another_name_is_refused() -> None:
    other = _tls_for("someone-else.example.test")
    async with (
        serve({"/cat.png": reply()}, tls=other.server) as server,
        fetcher(allow_http=False, verify=other.client) as f,
    ):
        with pytest.raises(FetchFailed) as caught:
            await f.get_bytes(server.url("/cat.png", "images.example.test"), max_bytes=MiB)
    assert caught.value.reason == "tls"
    assert "images.example.test" in caught.value.message
    assert server.received == []


async def test_a_connection_verified_for_one_name_is_never_reused_for_another(tls: Tls) -> None:
    # Both names resolve to the same address and port; the certificate is valid for the first
    # only. A pooled connection (keyed by address) would carry the second request unverified.
    dns = {"images.example.test": ["127.0.0.1"], "impostor.example.test": ["127.0.0.1"]}
    async with (
        serve({"/cat.png": reply(keep_alive=True)}, tls=tls.server) as server,
        fetcher(allow_http=False, verify=tls.client, dns=dns) as f,
    ):
        await f.get_bytes(server.url("/cat.png", "images.example.test"), max_bytes=MiB)
        with pytest.raises(FetchFailed) as caught:
            await f.get_bytes(server.url("/cat.png", "impostor.example.test"), max_bytes=MiB)
    assert caught.value.reason == "tls"
    assert len(server.received) == 1


async def test_a_certificate_from_an_unknown_authority_is_refused(tls: Tls) -> None:
    async with (
        serve({"/cat.png": reply()}, tls=tls.server) as server,
        fetcher(allow_http=False) as f,  # the system's trust store, not the test CA
    ):
        with pytest.raises(FetchFailed) as caught:
            await f.get_bytes(server.url("/cat.png", "images.example.test"), max_bytes=MiB)
    assert caught.value.reason == "tls"


# --- webhooks: post_json ------------------------------------------------------------------------


async def test_post_json_delivers_the_body_and_headers_and_returns_the_status() -> None:
    async with serve({"/hook": reply(204, b"")}) as server, fetcher() as f:
        status = await f.post_json(
            server.url("/hook", "images.example.test"),
            b'{"id": "gen_1"}',
            {"x-webhook-signature": "sha256=ab", "Host": "spoofed.example"},
        )
    assert status == 204
    got = server.received[0]
    assert (got.method, got.body) == ("POST", b'{"id": "gen_1"}')
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-webhook-signature"] == "sha256=ab"
    assert got.headers["host"] == f"images.example.test:{server.port}"


async def test_post_json_does_not_follow_redirects(secret: Server) -> None:
    routes = {"/hook": redirect(secret.url("/secret"), 307)}
    async with serve(routes) as server, fetcher(allow_private=True) as f:
        assert await f.post_json(server.url("/hook"), b"{}") == 307
    assert secret.received == []


async def test_post_json_to_a_private_address_is_refused(secret: Server) -> None:
    async with fetcher() as f:
        with pytest.raises(FetchRefused, match=r"^webhook URL points to a loopback address"):
            await f.post_json(secret.url("/secret"), b"{}")
    assert secret.received == []


# --- image sources: URLs and data URIs ----------------------------------------------------------


def data_uri(media_type: str, payload: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(payload).decode()}"


async def test_an_image_source_may_be_an_https_url(tls: Tls) -> None:
    async with (
        serve({"/cat.png": reply()}, tls=tls.server) as server,
        fetcher(allow_http=False, verify=tls.client) as f,
    ):
        ref = server.url("/cat.png", "images.example.test")
        assert await fetch_image_source(f, ref, max_url_bytes=MiB, max_data_uri_bytes=10) == PNG
        assert "image/png" in server.received[0].headers["accept"]


@pytest.mark.parametrize(
    "ref",
    [
        data_uri("image/png", PNG),
        data_uri("image/jpeg", b"\xff\xd8\xff\xe0jpeg"),
        data_uri("image/jpg", b"\xff\xd8\xff\xe0jpeg"),
        data_uri("image/webp", b"RIFF\0\0\0\0WEBP"),
        data_uri("IMAGE/PNG", PNG),
        "DATA:image/png;base64," + base64.b64encode(PNG).decode(),
        "data:image/png;base64," + base64.b64encode(PNG).decode().rstrip("="),  # no padding
        "data:image/png;base64," + "\n".join(base64.encodebytes(PNG).decode().split()),
        "data:image/png;name=cat.png;base64," + base64.b64encode(PNG).decode(),
        "data:image/png;base64," + base64.b64encode(PNG).decode().replace("+", "%2B"),
        "data:image/png," + "".join(f"%{b:02x}" for b in PNG),  # percent-encoded, no base64
    ],
)
async def test_data_uri_images_are_decoded(ref: str) -> None:
    async with fetcher() as f:
        data = await fetch_image_source(f, ref, max_url_bytes=MiB, max_data_uri_bytes=MiB)
    assert data.startswith((b"\x89PNG", b"\xff\xd8", b"RIFF"))
    assert data == parse_data_uri(ref, max_bytes=MiB)[1]


@pytest.mark.parametrize(
    ("ref", "reason", "message"),
    [
        ("data:image/png;base64,@@@@", "base64", "image data URI is not valid base64"),
        ("data:image/png;base64,iVBORw0KG", "base64", "image data URI is not valid base64"),
        ("data:image/png;base64,ïVBO", "base64", "image data URI is not valid base64"),
        (
            "data:text/plain;base64,aGVsbG8=",
            "media_type",
            "image data URI has media type text/plain; only image/png, image/jpeg, image/webp "
            "are accepted",
        ),
        ("data:;base64,aGVsbG8=", "media_type", "image data URI has media type none; only"),
        ("data:image/svg+xml,<svg/>", "media_type", "image data URI has media type image/svg+xml"),
        ("data:image/png;base64", "malformed", "image data URI is malformed: no ',' before"),
        ("data:image/png;base64,", "empty", "image data URI holds no data"),
        (data_uri("image/png", b"x" * 2049), "too_large", "image data URI is larger than 2 KB"),
        ("data:image/png," + "x" * 2049, "too_large", "image data URI is larger than 2 KB"),
        ("data:image/png," + "%00" * 9000, "too_large", "image data URI is larger than 2 KB"),
    ],
)
async def test_bad_data_uris_are_refused_with_a_clear_reason(
    ref: str, reason: str, message: str
) -> None:
    async with fetcher() as f:
        with pytest.raises(InvalidDataUri) as caught:
            await fetch_image_source(f, ref, max_url_bytes=MiB, max_data_uri_bytes=2048)
    assert caught.value.reason == reason
    assert caught.value.message.startswith(message)


async def test_a_data_uri_is_capped_by_its_decoded_size() -> None:
    exactly = data_uri("image/png", b"x" * 5 * MiB)
    assert len(parse_data_uri(exactly, max_bytes=5 * MiB)[1]) == 5 * MiB
    with pytest.raises(InvalidDataUri, match="larger than 5 MB"):
        parse_data_uri(data_uri("image/png", b"x" * (5 * MiB + 1)), max_bytes=5 * MiB)


@pytest.mark.parametrize(
    "ref", ["file:///etc/passwd", "ftp://images.example.test/cat.png", "/etc/passwd", "cat.png"]
)
async def test_image_sources_other_than_https_and_data_are_refused(ref: str) -> None:
    async with fetcher(allow_http=False) as f:
        with pytest.raises(FetchRefused, match=r"^image URL must use https"):
            await fetch_image_source(f, ref, max_url_bytes=MiB, max_data_uri_bytes=MiB)


def test_every_fetch_error_is_one_family() -> None:
    assert issubclass(FetchRefused, FetchError)
    assert issubclass(FetchFailed, FetchError)
    assert issubclass(InvalidDataUri, FetchError)
