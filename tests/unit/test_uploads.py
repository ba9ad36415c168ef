"""Ephemeral uploads (``service.uploads``) on real local storage: the size cap, the 24-hour
life of an upload, and that only the key that uploaded a file may name it."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vidgen.errors import InvalidRequest, NotFound, PayloadTooLarge
from vidgen.service.uploads import SWEEP_GRACE_SECONDS, UPLOAD_TTL_SECONDS, Uploads
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


async def test_a_sweep_removes_uploads_expired_past_the_grace_and_keeps_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = uploads(tmp_path)
    now = time.time()
    old = service.start("key-a", now=now)
    young = service.start("key-b", now=now + SWEEP_GRACE_SECONDS)
    for started, key, body in [(old, "key-a", b"old"), (young, "key-b", b"young")]:
        await service.store(started.upload_id, key, started.fields["signature"], chunks(body))
    stray = tmp_path / "uploads" / "key-a" / "not-an-upload"
    stray.write_bytes(b"?")

    # A day later both have expired, but neither longer than the grace ago.
    assert await service.sweep(now=now + UPLOAD_TTL_SECONDS + 1) == (0, 0)
    # Then the older is removed (once, whoever else sweeps), the younger kept a little longer.
    later = now + UPLOAD_TTL_SECONDS + SWEEP_GRACE_SECONDS + 1
    with caplog.at_level(logging.INFO, "vidgen.service.uploads"):
        assert await service.sweep(now=later) == (1, 3)
    assert [(r.levelno, r.count, r.bytes) for r in caplog.records] == [(logging.INFO, 1, 3)]
    assert await service.sweep(now=later) == (0, 0)
    assert await service.resolve("key-b", young.uri, "video") == b"young"
    left = sorted(path.name for path in (tmp_path / "uploads").rglob("*") if path.is_file())
    assert left == sorted([young.upload_id, "not-an-upload"])
