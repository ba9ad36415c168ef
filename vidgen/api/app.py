"""The app factory: one FastAPI app, every dialect's router, and a lifespan that starts the
runtime (and, in the embedded deployment, the worker pool beside the API)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgen import __version__
from vidgen.api import (
    account,
    admin,
    aimlapi,
    aimlapi_models,
    apiframe,
    docs,
    events,
    files,
    openai,
    ops,
    playground,
    provider_hooks,
    runway,
    runway_create,
    runway_uploads,
    usage,
)
from vidgen.api.deps import document_key_header
from vidgen.api.dialect import Dialect, FastPath, fast_path_of
from vidgen.errors import PayloadTooLarge, RequestTimeout
from vidgen.logs import log_request, request_id_var
from vidgen.metrics import HTTP_LATENCY
from vidgen.settings import Settings
from vidgen.wiring import Runtime

__all__ = [
    "DIALECTS",
    "FastPaths",
    "RequestContextMiddleware",
    "VidgenAPI",
    "create_app",
    "dialect_for_path",
    "new_request_id",
]

log = logging.getLogger("vidgen.http")

DIALECTS: tuple[Dialect, ...] = (aimlapi.DIALECT, apiframe.DIALECT, runway.DIALECT, openai.DIALECT)
DEFAULT_DIALECT = aimlapi.DIALECT
#: vidgen's own routes under Runway's /v1 (the model list, the key's account and usage, key
#: management, a generation's event stream): the default shape.
OWN_PATHS = ("/v1/models", "/v1/account", "/v1/admin", "/v1/usage", "/v1/generations")
QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def dialect_for_path(path: str) -> Dialect:
    """The dialect whose prefix is the longest that ``path`` starts with: ``/v1/videos/…`` is
    OpenAI's, any other ``/v1/…`` Runway's (so an unknown route there answers as Runway
    does), except vidgen's own."""
    if any(path == own or path.startswith(own + "/") for own in OWN_PATHS):
        return DEFAULT_DIALECT
    found: Dialect = DEFAULT_DIALECT
    longest = 0
    for dialect in DIALECTS:
        for prefix in dialect.prefixes:
            if len(prefix) > longest and path.startswith(prefix):
                found, longest = dialect, len(prefix)
    return found


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> str:
    """Every method some route serves at ``path``, for a 405's ``Allow``. Each route answers a
    wrong method for its own methods only, so ``PUT /v1/videos/x`` would list GET alone (the
    first route that matched), not GET and DELETE. ``routes``: the routers' own routes (they
    are included without a prefix, so their paths are the real ones)."""
    scope = {"type": "http", "path": path, "root_path": "", "method": ""}
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


_ID_PREFIX = 0
_ID_SEQUENCE = itertools.count()


def _seed_request_ids() -> None:
    global _ID_PREFIX, _ID_SEQUENCE
    _ID_PREFIX = int.from_bytes(os.urandom(8)) << 64
    _ID_SEQUENCE = itertools.count(int.from_bytes(os.urandom(4)))


_seed_request_ids()
os.register_at_fork(after_in_child=_seed_request_ids)  # a forked server must not share them


def new_request_id() -> str:
    """A request id in UUID form: 64 random bits drawn once per process, then a sequence.
    Unique like ``uuid4()`` for what request ids are for (finding one request's lines), but
    without a call to the kernel's random source on every request."""
    return str(uuid.UUID(int=_ID_PREFIX | (next(_ID_SEQUENCE) & (1 << 62) - 1), version=4))


def _header(scope: Scope, name: bytes) -> bytes:
    """The first value of header ``name`` (lower case), or b"" (no dict of them all)."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return b""


@functools.lru_cache(maxsize=1024)
def _latency(method: str, route: str, status: int) -> Any:
    """The latency histogram's child for these labels: ``labels()`` builds, checks and
    looks them up under a lock on every call. Route templates are few (unmatched paths share
    one), so the cache holds every combination a server sees."""
    return HTTP_LATENCY.labels(method, route, str(status))


#: The URL that ``POST /v1/uploads`` hands out for the file (``api.runway_uploads``).
_UPLOAD_FILE = re.compile(r"/v1/uploads/[^/]+/file")
#: Room for an upload form's fields and part headers beside the file.
_FORM_ROOM = 64 * 1024


class RequestContextMiddleware:
    """Pure ASGI middleware: request ids, the 413 body cap, the minimum body rate (408),
    access logs and latency metrics.

    The body rate is enforced here, not in the server's protocol: only the app knows when it
    waits for the client. A body may take ``body_grace`` seconds, plus one second for every
    ``min_body_rate`` bytes received; what counts is the time spent waiting in ``receive``,
    not the time the app spends elsewhere while the server holds the client back (uvicorn
    stops reading past 64 KiB not yet taken)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_grace: float,
        min_body_rate: int,
        max_upload_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # An upload's file post carries a whole input video, which may well be larger than any
        # other body (VIDGEN_MAX_VIDEO_BYTES against VIDGEN_MAX_BODY_BYTES): it gets the room of
        # the largest video plus its form's fields. The uploads service caps the file itself.
        self.max_upload_bytes = max(max_body_bytes, (max_upload_bytes or 0) + _FORM_ROOM)
        self.body_grace = body_grace
        self.min_body_rate = min_body_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id").decode("latin-1")
        request_id = supplied if _REQUEST_ID.match(supplied) else new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        path: str = scope["path"]

        body_too_slow = False

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                if body_too_slow:  # the rest of that body is not worth waiting for
                    headers.append((b"connection", b"close"))
                message["headers"] = headers
            await send(message)

        received = 0
        waited = 0.0
        body_done = False
        cap = self.max_upload_bytes if _UPLOAD_FILE.fullmatch(path) else self.max_body_bytes

        async def capped_receive() -> Message:
            nonlocal received, waited, body_done, body_too_slow
            if body_done:  # e.g. a streaming response that listens for a disconnect
                return await receive()
            began = time.perf_counter()
            try:
                async with asyncio.timeout(
                    self.body_grace + received / self.min_body_rate - waited
                ):
                    message = await receive()
            except TimeoutError:
                body_too_slow = True
                raise RequestTimeout(
                    f"The request body arrived slower than {self.min_body_rate} bytes a second."
                ) from None
            waited += time.perf_counter() - began
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise PayloadTooLarge(self._too_large(cap))
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        try:
            declared = _header(scope, b"content-length")
            if declared.isdigit() and int(declared) > cap:
                request = Request(scope)
                response = dialect_for_path(path).error_response(
                    request, PayloadTooLarge(self._too_large(cap))
                )
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, capped_receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            _latency(scope["method"], template, status).observe(elapsed)
            log_request(
                log,
                logging.DEBUG if path in QUIET_PATHS else logging.INFO,
                scope["method"],
                path,
                status,
                template,
                round(elapsed * 1000, 2),
            )
            request_id_var.reset(token)

    @staticmethod
    def _too_large(cap: int) -> str:
        return f"Request body is larger than {cap} bytes."


class FastPaths:
    """Pure ASGI middleware: the requests an endpoint's ``fast_path`` handler answers, answered
    before FastAPI's routing (see ``api.dialect.fast_path``); the rest go on to the app.

    Built from the routers themselves, which are included without a prefix; only routes with
    fixed paths can have one. The route is recorded in the scope, as routing would, for the
    request log and the latency metric."""

    def __init__(self, app: ASGIApp, routers: Iterable[APIRouter]) -> None:
        self.app = app
        self.table: dict[tuple[str, str], tuple[Any, FastPath]] = {}
        for router in routers:
            for route in router.routes:
                handler = fast_path_of(route)
                if handler is None or not isinstance(route, APIRoute):
                    continue
                if getattr(route, "param_convertors", None):
                    raise ValueError(f"{route.path}: a fast path needs a path without parameters")
                for method in route.methods or ():
                    self.table[(method, route.path)] = (route, handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = (
            self.table.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if entry is None:
            await self.app(scope, receive, send)
            return
        route, handler = entry
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            response = route.dialect.error_response(request, exc)
        if response is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        await response(scope, receive, send)


_SKIPPED_MIDDLEWARE = (
    "middleware added with add_middleware runs inside FastAPI's own layers, which the requests "
    "that fast paths answer (api.dialect.fast_path) never enter: it would silently miss them. "
    "Add it with VidgenAPI.add_front_middleware, which runs it for every request."
)


class VidgenAPI(FastAPI):
    """FastAPI, with vidgen's own request layers in front of FastAPI's.

    ``RequestContextMiddleware`` and ``FastPaths`` run first for every HTTP request, before
    FastAPI's per-request layers (its telemetry check, the server-error, telemetry and
    body-limit middleware, the exception middleware, routing): a request that a fast path
    answers never enters them, and renders its own errors in its dialect's shape; every other
    request goes through all of them as before. Lifespan events go straight to FastAPI.

    So middleware added the usual way (``add_middleware``, ``@app.middleware``), which FastAPI
    runs inside its own layers, would silently miss every request a fast path answers. Once fast
    paths are installed it is refused, and ``put_in_front`` refuses an app that already has
    some; middleware that has to see every request goes in front with ``add_front_middleware``.
    """

    fast_paths: FastPaths | None = None
    _front_middleware: list[Middleware]

    def put_in_front(self, routers: Iterable[APIRouter], settings: Settings) -> None:
        fast_paths = FastPaths(super().__call__, routers=routers)
        if fast_paths.table and self.user_middleware:
            raise RuntimeError(_SKIPPED_MIDDLEWARE)
        self.fast_paths = fast_paths
        self._front_settings = settings
        self._front_middleware = []
        self._build_front()

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        if self.fast_paths is not None and self.fast_paths.table:
            raise RuntimeError(_SKIPPED_MIDDLEWARE)
        super().add_middleware(middleware_class, *args, **kwargs)

    def add_front_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        """Middleware that sees every HTTP request, those the fast paths answer included: it
        runs inside ``RequestContextMiddleware`` (so the request id is set) and before the fast
        paths. As with ``add_middleware``, the one added last runs first."""
        if self.fast_paths is None:
            raise RuntimeError("put_in_front first: the front is built there")
        self._front_middleware.insert(0, Middleware(middleware_class, *args, **kwargs))
        self._build_front()

    def _build_front(self) -> None:
        assert self.fast_paths is not None
        app: ASGIApp = self.fast_paths
        for cls, args, kwargs in reversed(self._front_middleware):
            app = cls(app, *args, **kwargs)
        settings = self._front_settings
        self._front: ASGIApp = RequestContextMiddleware(
            app,
            max_body_bytes=settings.max_body_bytes,
            max_upload_bytes=settings.max_video_bytes,
            body_grace=settings.header_timeout_seconds,
            min_body_rate=settings.min_body_bytes_per_second,
        )

    def error_response(self, request: Request, exc: Exception) -> Response:
        """``exc`` as an error answer, in the shape of the dialect the path belongs to (the
        default dialect's for a path of none, e.g. ``/v1/account``)."""
        return dialect_for_path(request.scope["path"]).error_response(request, exc)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["app"] = self  # what Request.app reads, as Starlette would set it
            await self._front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    on_started: Callable[[Runtime], None] | None = None,
    bootstrap_key: bool = False,
) -> FastAPI:
    """Build the app. The runtime (database, storage, engines, workers) starts in the lifespan."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings)
        # Routes reach vidgen through the service alone (api.deps.ServiceDep).
        app.state.service = runtime.service
        if bootstrap_key:
            await runtime.ensure_first_key()
        try:
            async with runtime.beside_api():
                if on_started is not None:
                    on_started(runtime)
                yield
        finally:
            await runtime.aclose()

    app = VidgenAPI(
        title="vidgen",
        version=__version__,
        summary="Self-hosted video generation: the aimlapi, apiframe, Runway and OpenAI video APIs "
        "over one queue.",
        lifespan=lifespan,
        # FastAPI's pages load their scripts from a CDN; api.docs serves its own at /docs.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[{"name": d.tag, "description": f"The {d.name} dialect."} for d in DIALECTS]
        + [
            {"name": "account", "description": "The calling key: balance, webhook secret, usage."},
            {"name": "admin", "description": "Key management, for admin keys."},
            {"name": "events", "description": "A generation's progress, live (SSE)."},
            {"name": "files", "description": "Signed downloads."},
            {"name": "operations", "description": "Health, readiness, metrics, models."},
        ],
    )
    app.state.settings = settings
    routers = [
        *(
            module.router
            for module in (
                aimlapi,
                aimlapi_models,
                apiframe,
                runway,
                runway_create,
                runway_uploads,
                openai,
            )
        ),
        account.router,
        usage.router,
        admin.router,
        events.router,
        files.router,
        ops.router,
        docs.router,
        playground.router,
        provider_hooks.router,
    ]
    for router in routers:
        app.include_router(router)  # no prefix: FastPaths matches the routes' own paths
    own_routes = [route for router in routers for route in router.routes]

    def openapi() -> dict[str, Any]:
        # Validation errors are answered with 400 in each dialect's shape, never FastAPI's 422.
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    responses = operation.get("responses", {})
                    if responses.pop("422", None) is not None:
                        responses.setdefault("400", {"description": "Validation error"})
            schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
            schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
            document_key_header(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # Errors raised outside any route (404, 405), in the path's dialect. What a route raises,
    # its route class renders (api.dialect.ErrorRenderingRoute); the catch-all is a last
    # resort that should never run.
    async def render(request: Request, exc: Exception) -> Response:
        # async: Starlette runs a plain-def handler in its thread pool, a hop per 404.
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
            # Each route answers only for its own methods: list every method of the path.
            allowed = allowed_methods(own_routes, request.url.path)
            exc = StarletteHTTPException(
                405, exc.detail, headers={**(exc.headers or {}), "Allow": allowed}
            )
        return app.error_response(request, exc)

    app.add_exception_handler(StarletteHTTPException, render)
    app.add_exception_handler(RequestValidationError, render)
    app.add_exception_handler(Exception, render)
    app.put_in_front(routers, settings)
    return app
