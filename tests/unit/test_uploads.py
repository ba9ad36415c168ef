"""Ephemeral uploads (``service.uploads``) on real local storage: the size cap, the 24-hour
life of an upload, and that only the key that uploaded a file may name it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vidgen.errors import InvalidRequest, NotFound, PayloadTooLarge
from vidgen.service.uploads import UPLOAD_TTL_SECONDS, Uploads
from vidgen.storage.local import LocalStorage


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def uploads(tmp_path: Path, max_bytes: int = 100) -> Uploads:
    return Uploads(LocalStorage(tmp_path), b"secret", max_bytes)


async def test_a_stored_upload_reads_back_for_its_key_only(tmp_path: Path) -> None:
    service = uploads(tmp_path)
    started = service.start("key-a")
    await service.store(
        started.upload_id, "key-a", started.fields["signature"], chunks(b"ab", b"c")
    )
    assert await service.resolve("key-a", started.uri, "video") == b"abc"
    with pytest.raises(InvalidRequest) as refused:
        await service.resolve("key-b", started.uri, "video")
    assert refused.value.errors[0].field == "video"


async def test_a_file_over_the_cap_is_refused_and_not_kept(tmp_path: Path) -> None:
    service = uploads(tmp_path, max_bytes=4)
    started = service.start("key-a")
    with pytest.raises(PayloadTooLarge):
        await service.store(
            started.upload_id, "key-a", started.fields["signature"], chunks(b"abc", b"de")
        )
    with pytest.raises(InvalidRequest):
        await service.resolve("key-a", started.uri, "video")


async def test_a_signature_for_another_key_is_refused(tmp_path: Path) -> None:
    service = uploads(tmp_path)
    started = service.start("key-a")
    with pytest.raises(NotFound):
        await service.store(started.upload_id, "key-b", started.fields["signature"], chunks(b"a"))


async def test_an_upload_expires_after_a_day(tmp_path: Path) -> None:
    service = uploads(tmp_path)
    started = service.start("key-a", now=time.time() - UPLOAD_TTL_SECONDS - 1)
    with pytest.raises(InvalidRequest, match="expired"):
        await service.store(started.upload_id, "key-a", started.fields["signature"], chunks(b"a"))
    with pytest.raises(InvalidRequest, match="expired"):
        await service.resolve("key-a", started.uri, "first_image")


@pytest.mark.parametrize(
    ("upload_id", "key", "signature"),
    [
        ("UpstreamRejected", "key-a", "0" * 64),  # not an id this server makes
        (None, "k\ud800", "0" * 64),  # a lone surrogate cannot even be signed
        (None, "key-a", "\u00e9" * 64),  # not ASCII: compare_digest would raise on it
        (None, "key-a\x00", "0" * 64),
    ],
)
async def test_fields_of_another_shape_read_as_no_such_upload(
    tmp_path: Path, upload_id: str | None, key: str, signature: str
) -> None:
    service = uploads(tmp_path)
    started = service.start("key-a")
    with pytest.raises(NotFound):
        await service.store(upload_id or started.upload_id, key, signature, chunks(b"a"))
