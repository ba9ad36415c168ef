"""Shared FastAPI dependencies, as ``Annotated`` aliases: ``RuntimeDep``, ``CurrentKey``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from vidgen.errors import Unauthorized
from vidgen.runtime import Runtime
from vidgen.store.keys import ApiKey

# auto_error=False: a missing key must come out as the dialect's own 401, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="Your vidgen API key: `Bearer <key>`")
_x_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="apiframe-style key header"
)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain-def dependency in a thread pool, a hop per request.
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_key(
    runtime: RuntimeDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Depends(_x_api_key)],
) -> ApiKey:
    secret = (bearer.credentials if bearer else None) or x_api_key
    if not secret:
        raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'.")
    key = await runtime.keys.authenticate(secret.strip())
    if key is None:
        raise Unauthorized("Invalid or revoked API key.")
    return key


CurrentKey = Annotated[ApiKey, Depends(current_key)]


def public_base_url(request: Request) -> str:
    """Where links in answers should point: VIDGEN_PUBLIC_URL, or the URL the request used."""
    runtime = runtime_of(request)
    configured = runtime.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")
