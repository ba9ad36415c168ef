"""The errors vidgen raises, and what each one means to a client.

Every layer raises these; only the HTTP dialects turn them into responses, each in its own
error shape. Nothing below ``api/`` knows about status codes except through ``http_status``.

    VidgenError
    ├── RequestError                 the client can fix it (4xx)
    │   ├── InvalidRequest           400  one or more FieldErrors (field + reason)
    │   ├── Unauthorized             401  missing, unknown or revoked key
    │   ├── InsufficientCredits      403  (apiframe renders 402) balance below the price
    │   ├── Forbidden                403  the key may not do this (an admin route)
    │   │   └── MonthlyLimitReached  403  the key's monthly credit limit is spent
    │   ├── NotFound                 404  unknown id, or another key's generation
    │   ├── RequestTimeout           408  a body slower than VIDGEN_MIN_BODY_BYTES_PER_SECOND
    │   ├── Conflict                 409  e.g. an Idempotency-Key reused with another body
    │   ├── PayloadTooLarge          413  body over VIDGEN_MAX_BODY_BYTES
    │   └── RateLimited              429  too many requests for this key
    ├── ServiceUnavailable           503  a dependency (database, storage) is down
    └── EngineError                  a job failed; stored on the job as {name, message}
        ├── RetryableEngineError     transient: the worker may try the job again
        └── JobCancelled             the engine saw the cancel flag and stopped
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Conflict",
    "EngineError",
    "FieldError",
    "Forbidden",
    "ImageSourceError",
    "InsufficientCredits",
    "InvalidRequest",
    "JobCancelled",
    "LinkRefused",
    "Location",
    "MonthlyLimitReached",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RequestError",
    "RequestTimeout",
    "RetryableEngineError",
    "ServiceUnavailable",
    "Unauthorized",
    "VidgenError",
]

#: The part of a request a field is in.
Location = Literal["body", "query", "header"]


@dataclass(frozen=True)
class FieldError:
    """One problem with one request field.

    ``field`` is the canonical field name (see ``core.models.GenerationRequest``), or a dotted
    path for dialect-level type errors; each dialect renders it under its own name. A field the
    client named itself, which vidgen does not know (``as_sent``), is rendered as it came: a
    client's stray ``first_image`` is not vidgen's first image, spelled ``image_url``.

    ``model`` is the catalog id of the model that ``reason`` names, if it names one (made with
    ``naming``): then ``reason`` is a ``str.format`` template whose ``{model}`` each dialect
    fills with the model's name as its client sent it (Runway's ``gen4.5``, an aimlapi
    client's alias ``gen4_turbo``), and whose other fields come from ``values``. A template,
    not a search and replace of the id in finished text: the text may quote the client's own
    input, or another word that holds the id, which must come out as they are.

    ``location`` is the part of the request the field is in, for a dialect's error that says
    which (aimlapi's "Header validation error!").
    """

    field: str
    reason: str
    as_sent: bool = False
    model: str = ""
    location: Location = "body"
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def naming(
        cls,
        model: str,
        field: str,
        template: str,
        *,
        location: Location = "body",
        **values: object,
    ) -> FieldError:
        """An error whose reason names ``model`` (a catalog id) where ``template`` has
        ``{model}``, and holds ``values`` (as sent, never read as a template) elsewhere."""
        return cls(field, template, model=model, location=location, values=tuple(values.items()))

    def text(self, model_name: str = "") -> str:
        """The reason, naming the model as ``model_name`` (by default its catalog id)."""
        if not self.model:
            return self.reason
        return self.reason.format(model=model_name or self.model, **dict(self.values))


class VidgenError(Exception):
    """Base of every error vidgen raises on purpose."""

    http_status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestError(VidgenError):
    """The request cannot be served as sent; the client can fix it."""

    http_status = 400
    code = "bad_request"


class InvalidRequest(RequestError):
    """Validation failed. ``errors`` lists every field at fault, not just the first."""

    http_status = 400
    code = "invalid_request"

    def __init__(self, errors: list[FieldError], message: str | None = None) -> None:
        super().__init__(message or self.title(errors))
        self.errors = errors

    @staticmethod
    def title(errors: list[FieldError]) -> str:
        """What part of the request is wrong: "Body validation error!", "Header validation
        error!", or each part where the errors are in several ("Body and header …")."""
        parts = [p for p in ("body", "query", "header") if any(e.location == p for e in errors)]
        return " and ".join(parts or ["body"]).capitalize() + " validation error!"

    @classmethod
    def single(
        cls,
        field: str,
        reason: str,
        *,
        model: str = "",
        location: Location = "body",
        **values: object,
    ) -> InvalidRequest:
        """One field's error; with ``model``, ``reason`` is a template as ``FieldError.naming``
        takes."""
        if model:
            error = FieldError.naming(model, field, reason, location=location, **values)
        else:
            error = FieldError(field, reason, location=location)
        return cls([error], message=f"{field}: {error.text()}")


class Unauthorized(RequestError):
    http_status = 401
    code = "unauthorized"


class InsufficientCredits(RequestError):
    http_status = 403
    code = "insufficient_credits"

    def __init__(self, required: int, available: int) -> None:
        super().__init__(
            f"Insufficient credits: this generation costs {required}, the key has {available}."
        )
        self.required = required
        self.available = available


class Forbidden(RequestError):
    http_status = 403
    code = "forbidden"


class MonthlyLimitReached(Forbidden):
    code = "monthly_limit_reached"

    def __init__(self, limit: int, spent: int, price: int) -> None:
        super().__init__(
            f"Monthly credit limit reached: this key may spend {limit} credits per calendar "
            f"month (UTC), has spent {spent}, and this generation costs {price}."
        )
        self.limit = limit
        self.spent = spent
        self.price = price


class NotFound(RequestError):
    http_status = 404
    code = "not_found"


class RequestTimeout(RequestError):
    http_status = 408
    code = "request_timeout"


class Conflict(RequestError):
    http_status = 409
    code = "conflict"


class PayloadTooLarge(RequestError):
    http_status = 413
    code = "payload_too_large"


class RateLimited(RequestError):
    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(VidgenError):
    http_status = 503
    code = "service_unavailable"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ImageSourceError(Exception):
    """An input image cannot be used; ``reason`` says why, in words for the API user. Raised by
    image capture; the service reports it as an ``InvalidRequest`` on the image's field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LinkRefused(Exception):
    """A download link is missing, tampered with or expired (403); the reason is the message."""


class EngineError(VidgenError):
    """A generation failed. ``name`` and ``message`` are what the client sees on the job."""

    retryable = False

    def __init__(self, message: str, name: str = "GenerationFailed") -> None:
        super().__init__(message)
        self.name = name


class RetryableEngineError(EngineError):
    """A transient failure (an upstream 503, a lost connection): the job may run again."""

    retryable = True


class JobCancelled(EngineError):
    """Raised inside an engine when it notices that its job was cancelled."""

    def __init__(self, message: str = "The generation was cancelled.") -> None:
        super().__init__(message, name="Cancelled")
