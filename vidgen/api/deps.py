"""Shared FastAPI dependencies, as ``Annotated`` aliases: ``RuntimeDep``, ``CurrentKey``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from vidgen.errors import Unauthorized
from vidgen.runtime import Runtime
from vidgen.store.keys import ApiKey

#: The second way to send a key (apiframe's), documented beside the bearer scheme.
API_KEY_HEADER = "X-API-Key"
API_KEY_HEADER_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": API_KEY_HEADER,
    "description": "apiframe-style key header",
}


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain-def dependency in a thread pool, a hop per request.
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class KeyAuth(HTTPBearer):
    """The caller's API key, from ``Authorization: Bearer <key>`` or ``X-API-Key``, checked.

    One dependency that reads both headers itself: FastAPI resolves each dependency and each of
    its parameters anew on every request, and the three it took before (the bearer scheme, the
    header scheme, and this) were a third of a poll's time. The OpenAPI document still lists both
    schemes: this class is the bearer one, and ``document_key_header`` adds the other.
    """

    def __init__(self) -> None:
        # auto_error=False: a missing key must come out as the dialect's own 401, not FastAPI's.
        super().__init__(
            auto_error=False,
            scheme_name="HTTPBearer",
            description="Your vidgen API key: `Bearer <key>`",
        )

    async def __call__(self, request: Request) -> ApiKey:  # type: ignore[override]
        headers = request.headers
        scheme, token = get_authorization_scheme_param(headers.get("authorization"))
        secret = (token if scheme.lower() == "bearer" else "") or headers.get(API_KEY_HEADER, "")
        secret = secret.strip()
        if not secret:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'.")
        key = await runtime_of(request).keys.authenticate(secret)
        if key is None:
            raise Unauthorized("Invalid or revoked API key.")
        return key


current_key = KeyAuth()
CurrentKey = Annotated[ApiKey, Depends(current_key)]


def document_key_header(schema: dict[str, Any]) -> None:
    """Add the ``X-API-Key`` scheme as an alternative wherever the bearer scheme is required."""
    bearer = current_key.scheme_name
    components = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    if bearer not in components:
        return
    components["APIKeyHeader"] = dict(API_KEY_HEADER_SCHEME)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security", [])
            if {bearer: []} in security and {"APIKeyHeader": []} not in security:
                security.append({"APIKeyHeader": []})


def public_base_url(request: Request) -> str:
    """Where links in answers should point: VIDGEN_PUBLIC_URL, or the URL the request used."""
    runtime = runtime_of(request)
    configured = runtime.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")
