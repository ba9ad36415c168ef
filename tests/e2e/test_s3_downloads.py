"""Downloads when the videos live in an S3 bucket: presigned links straight to the bucket by
default, or streamed through the API (with Range) when VIDGEN_STORAGE_PROXY_DOWNLOADS says so;
the OpenAI dialect's /content streams from the bucket either way."""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer, data_uri, make_image, wait_for_status
from tests.servers import S3Server

pytestmark = pytest.mark.slow


def _server(factory: object, s3: S3Server, **extra: str) -> LiveServer:
    bucket = s3.create_bucket()
    server: LiveServer = factory(  # type: ignore[operator]
        VIDGEN_STORAGE_URL=f"s3://{bucket}/outputs",
        VIDGEN_ROUTES="runway/gen4_turbo=noop",
        **s3.env(),
        **extra,
    )
    server.start()
    return server


def _completed(server: LiveServer) -> dict[str, object]:
    with server.client() as client:
        body = {"model": "runway/gen4_turbo", "image_url": data_uri(make_image(64, 36))}
        created = client.post("/v2/video/generations", json=body).json()
        return wait_for_status(client, str(created["id"]))


def test_a_video_in_a_bucket_is_downloaded_through_a_presigned_link(
    live_server_factory: object, s3_server: S3Server
) -> None:
    import httpx

    server = _server(live_server_factory, s3_server)
    done = _completed(server)
    url = done["video"]["url"]  # type: ignore[index]
    assert url.startswith(s3_server.endpoint) and "X-Amz-Signature=" in url
    video = httpx.get(url)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert video.headers["content-type"] == "video/mp4"
    with server.client() as client:
        content = client.get(f"/v1/videos/{done['id']}/content")
        assert content.status_code == 200 and content.content == video.content
        thumb = client.get(f"/v1/videos/{done['id']}/content", params={"variant": "thumbnail"})
        # OpenAI's thumbnail type, made from the stored JPEG and kept in the bucket beside it.
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
        assert thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP"
        again = client.get(f"/v1/videos/{done['id']}/content", params={"variant": "thumbnail"})
        assert again.content == thumb.content
        ready = client.get("/ready").json()
        assert ready["checks"] == {"database": "ok", "storage": "ok"}


def test_with_proxied_downloads_the_api_streams_the_bucket_with_range_support(
    live_server_factory: object, s3_server: S3Server
) -> None:
    import httpx

    server = _server(live_server_factory, s3_server, VIDGEN_STORAGE_PROXY_DOWNLOADS="true")
    done = _completed(server)
    url = str(done["video"]["url"])  # type: ignore[index]
    assert url.startswith(server.base_url + "/files/videos/") and "_jwt=" in url
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    part = httpx.get(url, headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == whole.content[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{size}"
    tail = httpx.get(url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == whole.content[-5:]
    beyond = httpx.get(url, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    assert httpx.get(url.replace("_jwt=", "_jwt=x")).status_code == 403
