"""The S3 backend against a real S3-compatible server on loopback (moto's server mode)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.servers import S3Server
from vidgen.settings import Settings
from vidgen.storage import s3
from vidgen.storage.s3 import S3Storage
from vidgen.wiring import open_storage

MiB = 1024 * 1024


@pytest.fixture
async def storage(s3_server: S3Server, tmp_path: Path) -> AsyncIterator[S3Storage]:
    bucket = s3_server.create_bucket()
    settings = Settings(
        data_dir=tmp_path,
        storage_url=f"s3://{bucket}/some/prefix",
        s3_endpoint_url=s3_server.endpoint,
        s3_region=s3_server.REGION,
        s3_access_key_id=s3_server.ACCESS_KEY,
        s3_secret_access_key=s3_server.SECRET_KEY,
        s3_multipart_threshold=5 * MiB,
    )
    store = open_storage(settings.resolved_storage_url, settings)
    assert isinstance(store, S3Storage)
    yield store
    await store.aclose()


async def test_a_stored_file_comes_back_whole_and_by_range_under_the_prefix(
    storage: S3Storage, s3_server: S3Server, tmp_path: Path
) -> None:
    source = tmp_path / "v.mp4"
    source.write_bytes(bytes(range(256)) * 40)
    assert await storage.put_file("videos/a.mp4", source, "video/mp4") == 10240
    assert await storage.exists("videos/a.mp4")
    stat = await storage.stat("videos/a.mp4")
    assert stat is not None and stat.size == 10240 and stat.media_type == "video/mp4"
    part = b"".join([chunk async for chunk in storage.read_range("videos/a.mp4", 100, 355)])
    assert part == source.read_bytes()[100:356]
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=storage.bucket)["Contents"]]
    assert keys == ["some/prefix/videos/a.mp4"]
    await storage.delete("videos/a.mp4")
    assert not await storage.exists("videos/a.mp4")
    assert await storage.stat("videos/a.mp4") is None


async def test_listing_a_prefix_pages_through_every_object_under_it_with_its_size(
    storage: S3Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3, "LIST_PAGE_SIZE", 2)  # the first listing takes two pages
    for key, size in [("uploads/a/1", 1), ("uploads/a/2", 2), ("uploads/ab/3", 3)]:
        source = tmp_path / "source"
        source.write_bytes(b"x" * size)
        await storage.put_file(key, source, "application/octet-stream")
        await storage.put_file(key.replace("uploads", "videos"), source, "video/mp4")

    listed = sorted([(key, obj.size) async for key, obj in storage.list_objects("uploads/a")])

    # Keys as they were stored (the bucket's prefix taken off), matched as text.
    assert listed == [("uploads/a/1", 1), ("uploads/a/2", 2), ("uploads/ab/3", 3)]
    assert [key async for key, _ in storage.list_objects("uploads/a/")] == [
        "uploads/a/1",
        "uploads/a/2",
    ]


async def test_a_large_file_goes_up_in_parts(storage: S3Storage, tmp_path: Path) -> None:
    source = tmp_path / "big.mp4"
    source.write_bytes(os.urandom(11 * MiB))
    await storage.put_file("videos/big.mp4", source, "video/mp4")
    head = storage._client.head_object(
        Bucket=storage.bucket, Key=storage.object_key("videos/big.mp4")
    )
    # A multipart object's ETag is "<md5 of the part md5s>-<number of parts>".
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == 11 * MiB


async def test_a_presigned_link_downloads_the_file_and_names_it(
    storage: S3Storage, tmp_path: Path
) -> None:
    source = tmp_path / "v.mp4"
    source.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 1000)
    await storage.put_file("videos/b.mp4", source, "video/mp4")
    signed = await storage.presigned_url(
        "videos/b.mp4", ttl_seconds=3600, filename="b.mp4", media_type="video/mp4"
    )
    assert signed is not None
    url, expires = signed
    assert "X-Amz-Signature=" in url and expires > 0
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == source.read_bytes()
    assert response.headers["content-disposition"] == 'inline; filename="b.mp4"'
    # The same link is handed out again for a while (polls do not re-sign every time).
    assert (
        await storage.presigned_url(
            "videos/b.mp4", ttl_seconds=3600, filename="b.mp4", media_type="video/mp4"
        )
        == signed
    )
    tampered = url.replace("videos/b.mp4", "videos/c.mp4")
    assert httpx.get(tampered).status_code == 403


async def test_readiness_fails_for_a_missing_bucket(s3_server: S3Server) -> None:
    missing = S3Storage(
        "no-such-bucket-here",
        endpoint_url=s3_server.endpoint,
        region=s3_server.REGION,
        access_key_id=s3_server.ACCESS_KEY,
        secret_access_key=s3_server.SECRET_KEY,
    )
    try:
        with pytest.raises(Exception, match=r"404|Not Found|NoSuchBucket"):
            await missing.check()
    finally:
        await missing.aclose()


def test_storage_settings_are_checked_at_start_up() -> None:
    with pytest.raises(ValueError, match="file:// or s3://"):
        Settings(storage_url="gs://bucket")
    with pytest.raises(ValueError, match="needs a bucket"):
        Settings(storage_url="s3:///prefix")
    with pytest.raises(ValueError, match="both VIDGEN_S3_ACCESS_KEY_ID"):
        Settings(storage_url="s3://b", s3_access_key_id="x")
