"""What every HTTP dialect shares: its error shape, its field names, and the route class that
makes every error raised under its routes come out in that shape.

A dialect translates in (its body → ``GenerationRequest``) and renders out (``Generation`` → its
body); errors are part of rendering out. ``FieldError.field`` holds canonical names, which each
dialect maps to its own (``first_image`` is ``image_url`` for aimlapi, ``promptImage`` for
Runway), so a client always sees the name of the field it actually sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from fastapi import Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from vidgen.errors import (
    FieldError,
    InvalidRequest,
    Location,
    NotFound,
    RequestError,
    ServiceUnavailable,
    Unauthorized,
    VidgenError,
)

__all__ = [
    "Dialect",
    "ErrorRenderingRoute",
    "FastPath",
    "IdempotencyKey",
    "ServiceRoute",
    "as_vidgen_error",
    "error_fields",
    "fast_path",
    "fast_path_of",
    "field_errors_from_validation",
    "note_model_name",
    "request_fingerprint",
    "validation_reason",
]

log = logging.getLogger(__name__)

#: Answers an endpoint's common case straight from the request, or None to leave it to FastAPI.
FastPath = Callable[[Request], Awaitable[Response | None]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_FAST_PATH = "__vidgen_fast_path__"


def fast_path(handler: FastPath) -> Callable[[Endpoint], Endpoint]:
    """Give a hot endpoint a handler for its common case, run before FastAPI's routing and
    per-request work (the exception and exit-stack layers, matching the path against every
    route, resolving each dependency and parameter, validating the returned model before
    serialising it): most of the cost of a cheap request. ``FastPaths`` in ``api.app`` runs
    it. The endpoint stays the route's definition: its OpenAPI entry, and the answer to every
    request the handler passes on by returning None, errors included. The handler must answer
    exactly as the endpoint would; what it raises is rendered by the route's dialect. Only
    for routes without path parameters. Put it below the route decorator."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _FAST_PATH, handler)
        return endpoint

    return mark


def fast_path_of(route: Any) -> FastPath | None:
    """The fast path of a route's endpoint, if it has one."""
    return getattr(getattr(route, "endpoint", None), _FAST_PATH, None)


def request_fingerprint(dialect: str, payload: Any) -> str:
    """A digest of what a create asked for, to tell an Idempotency-Key's replay (same request)
    from its reuse for another request. Key order and spacing do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{dialect}\n{canonical}".encode()).hexdigest()


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Send the same key to retry a create safely: within 24 h the same key and "
        "body return the original generation (not charged again); the same key with another "
        "body is refused with 409.",
    ),
]


def field_errors_from_validation(exc: RequestValidationError) -> list[FieldError]:
    """Pydantic/FastAPI errors as FieldErrors, named by their path in the body or query. That
    path is the client's own spelling already (the request models are the wire's), so it is
    rendered as sent, not mapped again as a canonical name would be: Runway's snake_case
    ``range.start_seconds`` read as ``startSeconds``, aimlapi's ``character`` as
    ``character.url``."""
    errors: list[FieldError] = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        source = loc[0] if loc else "body"
        path = ".".join(loc[1:]) if len(loc) > 1 else source
        if err.get("type") == "json_invalid":
            path, reason = "body", "is not valid JSON: " + str(err.get("ctx", {}).get("error", ""))
        else:
            reason = validation_reason(err)
        location: Location = (
            "query" if source == "query" else "header" if source == "header" else "body"
        )
        errors.append(FieldError(path, reason.rstrip(": "), as_sent=True, location=location))
    return errors


def validation_reason(err: Mapping[str, Any]) -> str:
    """What is wrong with a field, from one of pydantic's errors, worded alike in every dialect
    (the field is named beside it): "is required", not pydantic's "Field required"."""
    if err.get("type") == "extra_forbidden":
        return "is not a known field"
    if err.get("type") == "missing":
        return "is required"
    return str(err.get("msg", "is invalid")).rstrip(": ")


def as_vidgen_error(exc: Exception) -> VidgenError:
    """Map anything raised while serving to the error we will render."""
    if isinstance(exc, VidgenError):
        return exc
    if isinstance(exc, RequestValidationError):
        return InvalidRequest(field_errors_from_validation(exc))
    if isinstance(exc, HTTPException):
        if isinstance(exc.__cause__, VidgenError):
            # FastAPI answers anything raised while it reads a body with its own 400 ("There
            # was an error parsing the body"), chained to what was raised. That is the answer:
            # the body cap's 413 on a chunked body (only reading finds it), the body rate's 408.
            return exc.__cause__
        if isinstance(exc.__cause__, UnicodeDecodeError):
            # A JSON body that is not UTF-8: FastAPI's catch-all names nothing; say what the
            # OpenAI route (which reads its body itself) says of any body json cannot read.
            return InvalidRequest.single("body", f"is not valid JSON: {exc.__cause__}")
        if exc.status_code == 404:
            return NotFound("Not found.")
        if exc.status_code == 401:
            return Unauthorized(str(exc.detail))
        error = RequestError(str(exc.detail))
        error.http_status = exc.status_code  # e.g. 405 Method Not Allowed
        return error
    return VidgenError("Internal server error.")


class Dialect(ABC):
    """One API dialect. Subclasses render errors; routers use ``route_class``."""

    name: ClassVar[str]
    tag: ClassVar[str]
    #: URL prefixes that belong to this dialect (for errors raised before routing, e.g. 413).
    prefixes: ClassVar[tuple[str, ...]] = ()
    #: canonical field name → this dialect's field name
    field_names: ClassVar[Mapping[str, str]] = {}

    def wire_name(self, field: str) -> str:
        head, dot, rest = field.partition(".")
        return self.field_names.get(field) or (self.field_names.get(head, head) + dot + rest)

    def field_label(self, error: FieldError) -> str:
        """How this dialect names the field of ``error``: its wire name, or, for a field that
        vidgen does not know, the name the client sent."""
        return error.field if error.as_sent else self.wire_name(error.field)

    def field_reason(self, request: Request, error: FieldError) -> str:
        """Why the field of ``error`` is wrong, naming the model as this dialect's client does
        (the name it sent, ``gen4.5``, not vidgen's catalog id ``runway/gen4.5``)."""
        service = getattr(request.app.state, "service", None)
        if not error.model or service is None:
            return error.text()
        sent: Mapping[str, str] = getattr(request.state, "model_names", {})
        name: str = sent.get(error.model) or service.catalog.name_in(error.model, self.name)
        return error.text(name)

    @abstractmethod
    def render_error(self, request: Request, error: VidgenError) -> Response:
        """The error in this dialect's shape. Must never include a stack trace."""

    def error_response(self, request: Request, exc: Exception) -> Response:
        error = as_vidgen_error(exc)
        if isinstance(error, ServiceUnavailable):
            # An outage: one line per request, with its cause, not a traceback each.
            log.warning("request failed: %s", error.message, extra={"cause": repr(exc.__cause__)})
        elif error.http_status >= 500:
            log.error("request failed", exc_info=exc)
        response = self.render_error(request, error)
        if isinstance(exc, HTTPException) and exc.headers:
            response.headers.update(exc.headers)  # e.g. Allow on a 405
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, round(retry_after)))
        return response

    def route_class(self) -> type[APIRoute]:
        dialect = self

        class DialectRoute(ErrorRenderingRoute):
            def render_error(self, request: Request, exc: Exception) -> Response:
                return dialect.error_response(request, exc)

        DialectRoute.dialect = dialect  # type: ignore[attr-defined]
        DialectRoute.__name__ = f"{type(self).__name__}Route"
        return DialectRoute


class ErrorRenderingRoute(APIRoute):
    """A route that answers whatever its endpoint or its dependencies raise with an error
    response of its own, and every API route is one (a dialect's, or a ``ServiceRoute``).

    Leaving an exception to FastAPI's catch-all handler (``add_exception_handler(Exception,
    …)``) is not the same: Starlette runs that handler in its ServerErrorMiddleware, which
    sends the answer and then raises the exception again, on purpose, for the server to see.
    uvicorn then logs "Exception in ASGI application" with a traceback, at ERROR, and closes
    the keep-alive connection, so a client's next request on it fails: for a plain 401."""

    def render_error(self, request: Request, exc: Exception) -> Response:
        raise NotImplementedError

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        render_error = self.render_error

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return render_error(request, exc)

        return handle


class ServiceRoute(ErrorRenderingRoute):
    """For the routes outside the four dialects (account, files, operations, docs, the
    playground): their errors take the shape the app gives any path of no dialect."""

    def render_error(self, request: Request, exc: Exception) -> Response:
        response: Response = request.app.error_response(request, exc)
        return response


def note_model_name(request: Request, model_id: str | None, sent: str | None) -> None:
    """Note that the client named the model ``model_id`` ``sent`` (an alias, say), so that an
    error about the model names it so (``Dialect.field_reason``)."""
    if model_id is not None and sent:
        request.state.model_names = {model_id: sent}


def error_fields(dialect: Dialect, request: Request, error: VidgenError) -> list[dict[str, Any]]:
    """The per-field details of a validation error, under the dialect's names of fields and
    models."""
    if not isinstance(error, InvalidRequest):
        return []
    return [
        {"field": dialect.field_label(e), "message": dialect.field_reason(request, e)}
        for e in error.errors
    ]
