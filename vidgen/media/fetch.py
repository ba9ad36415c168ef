"""The server's one way out: every HTTP request it makes on a user's behalf goes through here.

Input images (by URL or data URI), provider output downloads and webhook deliveries all use
``SafeFetcher``, so the SSRF rules live in one place:

- ``https`` only (plain ``http`` when the policy allows it); no ``user:pass@``; a real host and
  a port in 1–65535;
- the host is resolved once and *every* address it resolves to must be public (``check_address``),
  however the address is spelled (``parse_host``); the connection then goes to exactly that checked
  address, so a DNS answer that changes between check and connect (rebinding) cannot move it;
- redirects are followed by hand, at most ``FetchPolicy.max_redirects``, each hop checked again;
- connect, read and overall timeouts; bodies are streamed and cut off at a byte cap.

Example::

    async with SafeFetcher.from_settings(settings) as fetcher:
        body = await fetcher.get_bytes("https://example.com/cat.png", max_bytes=16 * MiB)

Address rules live in ``media.addresses``, data URIs in ``media.data_uri``.

Errors (``message`` is written for the API user and never carries internals)::

    FetchError             .reason: a short code, .message, .retryable
    ├── FetchRefused       the policy said no before anything was sent (scheme, address, redirects)
    ├── FetchFailed        tried and failed: timeout, HTTP status, too large, TLS (.status_code)
    └── InvalidDataUri     a data: URI that is malformed, not an image, or too large (data_uri)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Iterator,
    Mapping,
)
from contextlib import aclosing, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx

from vidgen.media.addresses import (
    IPAddress,
    IPNetwork,
    Resolver,
    check_address,
    parse_host,
    resolve_host,
)
from vidgen.settings import Settings

__all__ = [
    "FetchError",
    "FetchFailed",
    "FetchPolicy",
    "FetchRefused",
    "FetchedBody",
    "SafeFetcher",
    "format_size",
]

_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


# --- errors -------------------------------------------------------------------------------------


log = logging.getLogger(__name__)


class FetchError(Exception):
    """Base of every fetch error. ``message`` is safe to show the API user as it is."""

    def __init__(self, reason: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable


class FetchRefused(FetchError):
    """The policy refused the URL (or a redirect's target); nothing was sent to it."""


class FetchFailed(FetchError):
    """The request was tried and did not work. ``retryable`` marks transient causes
    (timeouts, lost connections, HTTP 429 and 5xx); ``status_code`` is the origin's answer."""

    def __init__(
        self, reason: str, message: str, *, retryable: bool = False, status_code: int | None = None
    ) -> None:
        super().__init__(reason, message, retryable=retryable)
        self.status_code = status_code


def format_size(n: int) -> str:
    mib, kib = 1024 * 1024, 1024
    if n >= mib:
        return f"{n // mib} MB" if n % mib == 0 else f"{n / mib:.1f} MB"
    if n >= kib:
        return f"{n // kib} KB" if n % kib == 0 else f"{n / kib:.1f} KB"
    return f"{n} bytes"


# --- the fetcher --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPolicy:
    """What outgoing requests may do. Build it directly in tests, ``from_settings`` elsewhere."""

    allow_http: bool = False
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()  # trusted exactly; metadata still refused
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # a drip-feeding server must not hold a fetch forever
    max_redirects: int = 3
    user_agent: str = "vidgen"

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        connect, read = settings.fetch_connect_timeout, settings.fetch_read_timeout
        return cls(
            allow_http=settings.fetch_allow_http,
            allow_private=settings.fetch_allow_private,
            connect_timeout=connect,
            read_timeout=read,
            # Settings name no overall limit; a minute suits images, and it is never shorter
            # than two slow connects and two slow reads.
            total_timeout=max(60.0, 2 * (connect + read)),
        )


@dataclass(frozen=True)
class FetchedBody:
    """A fetched body, its media type (lower case, no parameters; may be empty) and the URL it
    finally came from, after redirects."""

    content: bytes
    content_type: str
    final_url: str


@dataclass(frozen=True)
class _Target:
    url: httpx.URL  # as written (normalised by httpx): its host goes into Host and SNI
    host: str  # IDNA-encoded name or address literal, for messages
    is_name: bool  # a name, not an address literal: it is the TLS server name
    addresses: tuple[IPAddress, ...]  # every address the host resolved to, all allowed


class SafeFetcher:
    """Outgoing HTTP with the SSRF guard. One per process; ``aclose()`` at shutdown.

    ``resolver`` replaces DNS (tests map made-up names to loopback); ``verify`` is the TLS trust
    (a test CA's ``SSLContext``); ``transport`` replaces the network entirely.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self._resolve = resolver or resolve_host
        # No keep-alive: httpcore pools connections by (scheme, IP, port) alone, so a TLS
        # connection verified for one host name could be reused for another name on that IP.
        transport = transport or httpx.AsyncHTTPTransport(
            verify=verify, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            # Never a proxy from the environment: it would connect wherever it likes, undoing
            # the pinning. httpx skips env proxies when given a transport; this keeps it so.
            trust_env=False,
            follow_redirects=False,
            # Requests go to IP addresses, so cookies would be shared between every host name
            # on one IP, and between users: keep none.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            timeout=httpx.Timeout(
                connect=policy.connect_timeout,
                read=policy.read_timeout,
                write=policy.read_timeout,
                pool=policy.connect_timeout,
            ),
            # Identity only: a small gzip or brotli body can inflate past any cap in one chunk.
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": "identity"},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SafeFetcher:
        return cls(FetchPolicy.from_settings(settings))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> SafeFetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def check_url(self, url: str, *, subject: str = "resource") -> list[IPAddress]:
        """Apply every rule to ``url`` without sending anything; return the checked addresses.
        Lets a caller refuse a bad webhook URL at submit time."""
        target = await self._vet(url, f"{subject} URL")
        return list(target.addresses)

    async def get_bytes(
        self,
        url: str,
        *,
        max_bytes: int,
        subject: str = "resource",
        accept: str = "*/*",
        deadline: float | None = None,
    ) -> FetchedBody:
        """GET ``url`` (following checked redirects) and return its body, at most ``max_bytes``.

        ``subject`` names the thing in error messages: ``"image"`` gives "image URL returned
        HTTP 404" and "image is larger than 16 MB".
        """
        body = bytearray()
        async with (
            self._deadline(subject, deadline),
            self._open("GET", url, subject=subject, headers={"Accept": accept}) as (
                response,
                final,
            ),
            aclosing(self._body(response, max_bytes, subject)) as chunks,
        ):
            async for chunk in chunks:
                body += chunk
        return FetchedBody(bytes(body), _media_type(response), str(final))

    async def stream_to_file(
        self,
        url: str,
        path: Path,
        *,
        max_bytes: int,
        subject: str = "resource",
        deadline: float | None = None,
    ) -> int:
        """GET ``url`` into ``path`` and return the bytes written; ``path`` is removed on error.
        For provider outputs, which may be far larger than is wise to hold in memory."""
        written = 0
        fh = await asyncio.to_thread(path.open, "wb")
        try:
            async with (
                self._deadline(subject, deadline),
                self._open("GET", url, subject=subject) as (response, _),
                aclosing(self._body(response, max_bytes, subject)) as chunks,
            ):
                async for chunk in chunks:
                    await asyncio.to_thread(fh.write, chunk)
                    written += len(chunk)
        except BaseException:
            await asyncio.to_thread(fh.close)
            with suppress(OSError):
                await asyncio.to_thread(path.unlink)
            raise
        await asyncio.to_thread(fh.close)
        return written

    async def post_json(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        subject: str = "webhook",
        deadline: float | None = None,
    ) -> int:
        """POST ``body`` as JSON and return the status code, whatever it is. Redirects are
        not followed (a 3xx is returned): a webhook's receiver must answer where it was told."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        async with (
            self._deadline(subject, deadline),
            self._open("POST", url, subject=subject, headers=sent, content=body) as (response, _),
        ):
            return response.status_code

    # --- internals ------------------------------------------------------------------------------

    @asynccontextmanager
    async def _deadline(self, subject: str, deadline: float | None) -> AsyncIterator[None]:
        seconds = deadline if deadline is not None else self.policy.total_timeout
        try:
            async with asyncio.timeout(seconds):
                yield
        except TimeoutError:
            raise FetchFailed(
                "timeout", f"{subject} URL took longer than {seconds:g} s", retryable=True
            ) from None

    def _parse(self, url: str | httpx.URL, label: str) -> tuple[httpx.URL, IPAddress | str, int]:
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise FetchRefused("invalid_url", f"{label} is not a valid URL") from None
        schemes = ("https", "http") if self.policy.allow_http else ("https",)
        if parsed.scheme not in schemes:
            extra = "; plain http is not allowed" if parsed.scheme == "http" else ""
            raise FetchRefused("scheme", f"{label} must use https{extra}")
        if parsed.userinfo:
            raise FetchRefused("userinfo", f"{label} must not contain a user name or password")
        raw_host = parsed.raw_host.decode("ascii")
        if not raw_host:
            raise FetchRefused("host", f"{label} has no host")
        port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
        if not 1 <= port <= 65535:
            raise FetchRefused("port", f"{label} has an invalid port ({port})")
        try:
            host = parse_host(raw_host)
        except ValueError as exc:
            raise FetchRefused("host", f"{label} host {exc}") from None
        return parsed, host, port

    async def _vet(self, url: str | httpx.URL, label: str) -> _Target:
        parsed, host, port = self._parse(url, label)
        if isinstance(host, str):
            addresses = await self._resolve_checked(host, port, label)
            where = "host resolves to"
        else:
            addresses, where = [host], "points to"
        for ip in addresses:
            kind = check_address(
                ip,
                allow_private=self.policy.allow_private,
                allowed_networks=self.policy.allowed_networks,
            )
            if kind is not None:
                article = "an" if kind.value[0] in "aeiou" else "a"
                # Name the address only when the client wrote it: for a host name, echoing what
                # it resolves to would let anyone map our internal DNS. The log keeps it.
                shown = f" ({ip})" if not isinstance(host, str) else ""
                log.info(
                    "fetch refused",
                    extra={"url_host": str(host), "address": str(ip), "kind": kind.value},
                )
                raise FetchRefused(
                    "address",
                    f"{label} {where} {article} {kind.value} address{shown}; "
                    "only public addresses are allowed",
                )
        return _Target(
            parsed, parsed.raw_host.decode("ascii"), isinstance(host, str), tuple(addresses)
        )

    async def _resolve_checked(self, host: str, port: int, label: str) -> list[IPAddress]:
        failed = FetchFailed("resolve", f"{label} host {host} could not be resolved")
        try:
            async with asyncio.timeout(self.policy.connect_timeout):
                addresses = list(await self._resolve(host, port))
        except TimeoutError:
            failed.retryable = True
            raise failed from None
        except socket.gaierror as exc:
            failed.retryable = exc.errno == socket.EAI_AGAIN
            raise failed from None
        if not addresses:
            raise failed
        return addresses

    @asynccontextmanager
    async def _open(
        self,
        method: str,
        url: str,
        *,
        subject: str,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> AsyncIterator[tuple[httpx.Response, httpx.URL]]:
        """The final response (streaming, closed on exit) and its URL as the user would
        write it (not the pinned address); redirects are followed for GET only."""
        current: str | httpx.URL = url
        for hop in range(self.policy.max_redirects + 1):
            label = f"{subject} URL" if hop == 0 else f"{subject} URL redirect target"
            target = await self._vet(current, label)
            response = await self._send_pinned(method, target, subject, headers, content)
            location = response.headers.get("location")
            if method == "GET" and response.status_code in _REDIRECT_CODES and location:
                await response.aclose()
                try:
                    current = target.url.join(location)
                except httpx.InvalidURL:
                    raise FetchFailed(
                        "redirect", f"{subject} URL redirected to an invalid URL"
                    ) from None
                continue
            try:
                if method == "GET":
                    _raise_for_status(response, subject)
                yield response, target.url
            finally:
                await response.aclose()
            return
        raise FetchRefused(
            "redirects", f"{subject} URL redirected more than {self.policy.max_redirects} times"
        )

    async def _send_pinned(
        self,
        method: str,
        target: _Target,
        subject: str,
        headers: Mapping[str, str] | None,
        content: bytes | None,
    ) -> httpx.Response:
        """Send to the checked addresses themselves, never to the name, so no second DNS
        answer is ever used. The next address is tried only when connecting failed, i.e.
        before anything was sent."""
        sent = httpx.Headers(headers)
        sent["Host"] = target.url.netloc.decode("ascii")  # replaces any caller-given Host
        extensions = {}
        if target.url.scheme == "https" and target.is_name:
            # httpcore uses this as server_hostname: SNI and certificate checks use the name.
            extensions["sni_hostname"] = target.host
        last: httpx.TransportError | None = None
        for ip in target.addresses:
            request = self._client.build_request(
                method,
                target.url.copy_with(host=str(ip)),
                headers=sent,
                content=content,
                extensions=extensions,
            )
            with _translate_errors(self.policy, subject, target.host):
                try:
                    return await self._client.send(request, stream=True)
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    if _tls_error(exc) is not None:
                        raise
                    last = exc
        assert last is not None  # _vet never returns a target without addresses
        with _translate_errors(self.policy, subject, target.host):
            raise last

    async def _body(
        self, response: httpx.Response, max_bytes: int, subject: str
    ) -> AsyncGenerator[bytes, None]:
        too_large = FetchFailed("too_large", f"{subject} is larger than {format_size(max_bytes)}")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchFailed(
                "encoding", f"{subject} URL sent a compressed body ({encoding[:30]}); not accepted"
            )
        with suppress(ValueError):
            if int(response.headers.get("content-length", "0")) > max_bytes:
                raise too_large  # the server says so itself: read nothing
        received = 0
        with _translate_errors(self.policy, subject, ""):
            async for chunk in response.aiter_raw(_CHUNK):
                received += len(chunk)
                if received > max_bytes:  # counted, not trusted: the stream may never end
                    raise too_large
                yield chunk


def _raise_for_status(response: httpx.Response, subject: str) -> None:
    code = response.status_code
    if not 200 <= code < 300:
        raise FetchFailed(
            "http_status",
            f"{subject} URL returned HTTP {code}",
            retryable=code in (408, 425, 429) or code >= 500,
            status_code=code,
        )


def _media_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";")[0].strip().lower()


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


@contextmanager
def _translate_errors(policy: FetchPolicy, subject: str, host: str) -> Iterator[None]:
    """httpx's exceptions as FetchFailed, with messages that name the cause but not our
    internals (no addresses, no stack, no library names)."""
    label = f"{subject} URL"
    try:
        yield
    except httpx.ConnectTimeout:
        raise FetchFailed(
            "timeout",
            f"{label} host did not accept a connection within {policy.connect_timeout:g} s",
            retryable=True,
        ) from None
    except httpx.TimeoutException:
        raise FetchFailed(
            "timeout", f"{label} sent nothing for {policy.read_timeout:g} s", retryable=True
        ) from None
    except httpx.ConnectError as exc:
        tls = _tls_error(exc)
        if tls is None:
            raise FetchFailed(
                "connect", f"could not connect to the {label} host", retryable=True
            ) from None
        detail = str(getattr(tls, "verify_message", None) or "TLS handshake failed")
        raise FetchFailed(
            "tls", f"{label}: the TLS certificate of {host} could not be verified ({detail})"
        ) from None
    except httpx.TransportError:
        raise FetchFailed(
            "connection", f"the connection to the {label} host failed", retryable=True
        ) from None
