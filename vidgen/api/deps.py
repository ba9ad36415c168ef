"""Shared FastAPI dependencies, as ``Annotated`` aliases: ``ServiceDep``, ``CurrentKey``."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from vidgen.core.keys import ApiKey
from vidgen.service import Service

__all__ = [
    "API_KEY_HEADER",
    "CurrentKey",
    "KeyAuth",
    "ServiceDep",
    "current_key",
    "document_key_header",
    "get_service",
    "public_base_url",
    "service_of",
]

#: The second way to send a key (apiframe's), documented beside the bearer scheme.
API_KEY_HEADER = "X-API-Key"
_API_KEY_HEADER = API_KEY_HEADER.lower().encode()
API_KEY_HEADER_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": API_KEY_HEADER,
    "description": "apiframe-style key header",
}


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def get_service(request: Request) -> Service:
    # async on purpose: FastAPI runs a plain-def dependency in a thread pool, a hop per request.
    return service_of(request)


#: The only way into vidgen for a route: the service (``vidgen.service``), never the wiring or
#: an adapter.
ServiceDep = Annotated[Service, Depends(get_service)]


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
        # The two headers, read straight from the scope (first of each, as Headers.get).
        authorization = api_key = None
        for name, value in request.scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == _API_KEY_HEADER and api_key is None:
                api_key = value.decode("latin-1")
        scheme, token = get_authorization_scheme_param(authorization)
        secret = (token if scheme.lower() == "bearer" else "") or api_key or ""
        return await service_of(request).access.authenticate(secret)


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
    configured = service_of(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    scope = request.scope
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    root_path = scope.get("app_root_path", scope.get("root_path", ""))
    server = scope.get("server")
    server = tuple(server) if server is not None else None  # hashable whatever the server
    return _base_url(scope.get("scheme", "http"), host, server, root_path)


@functools.lru_cache(maxsize=512)
def _base_url(scheme: str, host: bytes | None, server: Any, root_path: str) -> str:
    """``request.base_url`` as Starlette computes it from these parts of the scope (the only
    ones it reads), remembered: building it parses the Host header and a URL each time, and
    every poll answer carries two links."""
    headers = [(b"host", host)] if host is not None else []
    scope = {"type": "http", "scheme": scheme, "server": server, "headers": headers}
    scope |= {"path": "/", "query_string": b"", "root_path": root_path}
    return str(Request(scope).base_url).rstrip("/")
