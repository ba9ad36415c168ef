"""What the SDK raises. Catch ``VidgenError`` for everything, or one of its branches:

    VidgenError
    ├── APIError                    the server answered with an error status
    │   ├── ValidationError         400/422: bad input; ``errors`` names each field (also raised
    │   │   │                       before sending, e.g. for an image file that does not exist)
    │   │   └── PayloadTooLarge     413: the body (usually an image) is too large
    │   ├── AuthenticationError     401: missing, unknown or revoked API key
    │   ├── InsufficientCredits     402/403: the key's balance is below the price
    │   ├── NotFound                404: no such generation for this key
    │   ├── RateLimited             429: still limited after the retries; ``retry_after``
    │   └── ServerError             5xx: still failing after the retries
    ├── APIConnectionError          the server could not be reached (after the retries)
    ├── GenerationFailed            the generation ended in ``error``: ``name`` and ``message``
    ├── Timeout                     ``wait`` gave up; the generation may still finish
    └── DownloadError               the video could not be downloaded intact

Example::

    from vidgen.client import Client, GenerationFailed, ValidationError

    try:
        video = Client().generations.generate(model="runway/gen4_turbo", image="cat.png")
    except ValidationError as exc:
        print(exc.fields)          # {"aspect_ratio": "must be one of 16:9, 9:16"}
    except GenerationFailed as exc:
        print(exc.name, exc.message)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from vidgen.client.types import Generation

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "DownloadError",
    "FieldProblem",
    "GenerationFailed",
    "InsufficientCredits",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "Timeout",
    "ValidationError",
    "VidgenError",
    "error_from_response",
    "retry_after_seconds",
]


class VidgenError(Exception):
    """Base of every error the SDK raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIError(VidgenError):
    """The server answered with an error status.

    ``status_code`` is None only for a ``ValidationError`` raised before anything was sent.
    ``body`` is the decoded error body (aimlapi's ``{message, path, requestId, statusCode,
    timestamp, errors?}``), or ``{}`` when it was not JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.body = body or {}

    def __str__(self) -> str:
        return f"{self.status_code} {self.message}" if self.status_code else self.message


@dataclass(frozen=True)
class FieldProblem:
    """One field at fault and why, e.g. ``FieldProblem("duration", "must be one of 5, 10")``."""

    field: str
    message: str


class ValidationError(APIError):
    """The request was refused as sent (400 or 422). ``errors`` lists every field at fault."""

    def __init__(
        self,
        message: str,
        errors: list[FieldProblem] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors = list(errors or [])

    @property
    def fields(self) -> dict[str, str]:
        """``{field: reason}``; a problem with the request as a whole has the field ``""``."""
        return {problem.field: problem.message for problem in self.errors}


class PayloadTooLarge(ValidationError):
    """413: the request body is too large, usually because of an image sent as a data URI."""


class AuthenticationError(APIError):
    """401: the API key is missing, unknown or revoked."""


class InsufficientCredits(APIError):
    """402 or 403: the key's balance does not cover the generation. Nothing was created."""


class NotFound(APIError):
    """404: no such generation for this key (another key's generations also read as 404)."""


class RateLimited(APIError):
    """429, still answered after the retries. ``retry_after`` is the server's hint, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx, still answered after the retries (or at once, for a create that may have landed)."""


class APIConnectionError(VidgenError):
    """The server could not be reached, or the connection broke, after the retries."""


class GenerationFailed(VidgenError):
    """The generation ended in ``error``. ``name`` is e.g. ``Cancelled`` or ``GenerationFailed``.

    ``generation`` is its final state, as the server reported it.
    """

    def __init__(self, generation: Generation) -> None:
        error = generation.error
        self.name = error.name if error else "Error"
        self.generation = generation
        detail = (
            error.message if error else f"the generation ended with status {generation.status!r}"
        )
        super().__init__(detail)

    def __str__(self) -> str:
        return f"generation {self.generation.id} failed: {self.name}: {self.message}"


class Timeout(VidgenError, TimeoutError):
    """``wait`` ran out of time. The generation goes on; ``generation`` is its last known state."""

    def __init__(self, generation_id: str, waited: float, generation: Generation | None) -> None:
        last = f" (last status: {generation.status})" if generation else ""
        super().__init__(f"generation {generation_id} not finished after {waited:.1f} s{last}")
        self.generation_id = generation_id
        self.waited = waited
        self.generation = generation


class DownloadError(VidgenError):
    """The video could not be downloaded intact: a refused link, a short file, no video yet."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: InsufficientCredits,
    403: InsufficientCredits,
    404: NotFound,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
}


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict[str, Any], response: httpx.Response) -> str:
    # aimlapi says {"message": …}; other services say {"error": {"message": …}}, {"error": "…"}
    # or FastAPI's {"detail": …}. Fall back to the text, then the reason phrase.
    for candidate in (body.get("message"), body.get("error"), body.get("detail")):
        if isinstance(candidate, dict):
            candidate = candidate.get("message")
        if isinstance(candidate, str) and candidate:
            return candidate
    text = response.text.strip()
    return text[:500] if text and not body else response.reason_phrase or "error"


def _field_problems(body: dict[str, Any]) -> list[FieldProblem]:
    problems = []
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            problems.append(FieldProblem(str(item.get("field", "")), str(item.get("message", ""))))
    return problems


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (it may be a number or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response, *, key_given: bool = True) -> APIError:
    """The typed error for an error response (status ≥ 400)."""
    body = _error_body(response)
    message = _message(body, response)
    status = response.status_code
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": body.get("requestId") or response.headers.get("x-request-id"),
        "body": body,
    }
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    if cls is AuthenticationError and not key_given:
        message += " (no API key was given: pass api_key= or set VIDGEN_API_KEY)"
    if issubclass(cls, ValidationError):
        return cls(message, _field_problems(body), **kwargs)
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after_seconds(response), **kwargs)
    return cls(message, **kwargs)
