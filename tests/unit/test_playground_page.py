"""The playground page as HTTP sees it: its security headers, its assets, and its absence from
the API's OpenAPI document. (What it does in a browser: tests/e2e/test_playground.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from vidgen.api.app import create_app
from vidgen.api.playground import STATIC_DIR
from vidgen.settings import Settings


def client_for(settings: Settings) -> httpx.AsyncClient:
    # ASGITransport runs no lifespan: the page needs only the settings, not the runtime.
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_settings(tmp_path / "data", max_data_uri_bytes=123_456)) as client:
        yield client


def policy_of(response: httpx.Response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    directives = (part.strip().split(" ", 1) for part in header.split(";"))
    return {name: value for name, value in directives}


async def test_the_page_allows_only_its_own_origin_plus_data_and_blob_images(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert policy_of(response) == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "connect-src": "'self'",
        "img-src": "'self' data: blob:",
        "media-src": "'self' blob:",
        "form-action": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_links_on_another_public_origin_are_allowed_as_images_and_media(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data", public_url="https://video.example.com/base")
    async with client_for(settings) as client:
        policy = policy_of(await client.get("/"))
    assert policy["img-src"] == "'self' https://video.example.com data: blob:"
    assert policy["media-src"] == "'self' https://video.example.com blob:"
    assert policy["connect-src"] == "'self'"


async def test_the_page_carries_the_servers_own_image_limits(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert '<meta name="vidgen-max-data-uri-bytes" content="123456">' in page
    assert "{{" not in page


async def test_every_asset_the_page_names_is_served_with_its_type(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/")).text
    for name, media_type in [
        ("playground.css", "text/css"),
        ("playground.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ]:
        assert f"/static/{name}" in page
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type)
        assert response.content == (STATIC_DIR / name).read_bytes()


async def test_an_unchanged_asset_is_answered_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/static/playground.js")
    again = await client.get(
        "/static/playground.js", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/index.html", "/static/..%2fapp.py"])
async def test_only_the_listed_assets_are_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["statusCode"] == 404


async def test_the_playground_is_not_part_of_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/" not in paths
    assert not any(path.startswith("/static") for path in paths)
