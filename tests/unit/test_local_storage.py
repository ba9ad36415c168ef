"""Local storage: files appear whole or not at all, and what a killed writer left is swept."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from vidgen.storage.local import PARTIAL_DIR, STALE_PARTIAL_SECONDS, LocalStorage


async def test_a_file_is_copied_whole_and_nothing_is_left_beside_it(tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\x00\x01" * 5000)
    storage = LocalStorage(tmp_path / "objects")

    size = await storage.put_file("videos/a.mp4", source, "video/mp4")

    assert size == 10000
    assert storage.local_path("videos/a.mp4").read_bytes() == source.read_bytes()
    assert await storage.exists("videos/a.mp4")
    assert list((tmp_path / "objects" / "videos").iterdir()) == [storage.local_path("videos/a.mp4")]
    assert list((tmp_path / "objects" / PARTIAL_DIR).iterdir()) == []


async def test_the_first_write_sweeps_stale_partials_and_keeps_fresh_ones(tmp_path: Path) -> None:
    partial = tmp_path / "objects" / PARTIAL_DIR
    partial.mkdir(parents=True)
    stale, fresh = partial / "dead.tmp", partial / "busy.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written by another worker")
    long_ago = time.time() - STALE_PARTIAL_SECONDS - 60
    os.utime(stale, (long_ago, long_ago))
    source = tmp_path / "x.jpg"
    source.write_bytes(b"jpeg")

    await LocalStorage(tmp_path / "objects").put_file("thumbnails/x.jpg", source, "image/jpeg")

    assert not stale.exists()
    assert fresh.exists()


async def test_a_consumed_file_is_moved_into_place_and_a_retry_of_the_put_succeeds(
    tmp_path: Path,
) -> None:
    source = tmp_path / "scratch" / "clip.mp4"
    source.parent.mkdir()
    source.write_bytes(b"\x07" * 4096)
    storage = LocalStorage(tmp_path / "objects")

    assert await storage.put_file("videos/b.mp4", source, "video/mp4", consume=True) == 4096
    assert not source.exists()  # renamed, not copied
    assert storage.local_path("videos/b.mp4").read_bytes() == b"\x07" * 4096
    # A worker that stored the video but could not record it retries the whole upload.
    assert await storage.put_file("videos/b.mp4", source, "video/mp4", consume=True) == 4096
    assert not (tmp_path / "objects" / PARTIAL_DIR).exists()


@pytest.mark.parametrize("consume", [False, True])
async def test_a_put_remakes_a_directory_removed_after_an_earlier_put(
    tmp_path: Path, consume: bool
) -> None:
    storage = LocalStorage(tmp_path / "objects")
    for name in ("first", "second"):
        source = tmp_path / f"{name}.mp4"
        source.write_bytes(name.encode())
        assert await storage.put_file(f"videos/{name}.mp4", source, "video/mp4", consume=consume)
        shutil.rmtree(tmp_path / "objects")  # removed by hand while the server runs
    source = tmp_path / "third.mp4"
    source.write_bytes(b"third")
    await storage.put_file("videos/third.mp4", source, "video/mp4", consume=consume)
    assert storage.local_path("videos/third.mp4").read_bytes() == b"third"


async def test_a_consumed_put_of_a_file_that_never_existed_fails(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "objects")
    with pytest.raises(FileNotFoundError):
        await storage.put_file("videos/c.mp4", tmp_path / "missing.mp4", "video/mp4", consume=True)


@pytest.mark.parametrize("key", ["../outside.mp4", "videos/../../outside.mp4", "/etc/passwd", ""])
def test_a_key_may_not_leave_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="escapes the root"):
        LocalStorage(tmp_path / "objects").local_path(key)


async def test_several_files_are_stored_together_in_order(tmp_path: Path) -> None:
    sources = []
    for name, size in (("clip.mp4", 300), ("thumb.jpg", 20)):
        sources.append(tmp_path / name)
        sources[-1].write_bytes(b"\x01" * size)
    storage = LocalStorage(tmp_path / "objects")
    sizes = await storage.put_files(
        [("videos/d.mp4", sources[0], "video/mp4"), ("thumbnails/d.jpg", sources[1], "image/jpeg")],
        consume=True,
    )
    assert sizes == [300, 20]
    assert storage.local_path("thumbnails/d.jpg").read_bytes() == b"\x01" * 20
    assert not any(s.exists() for s in sources)


async def test_listing_a_prefix_finds_the_objects_under_it_with_their_sizes(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path / "objects")
    for key, size in [("uploads/a/1", 3), ("uploads/ab/2", 5), ("videos/v.mp4", 7)]:
        source = tmp_path / "source"
        source.write_bytes(b"x" * size)
        await storage.put_file(key, source, "application/octet-stream")

    async def listed(prefix: str) -> list[tuple[str, int]]:
        return sorted([(key, obj.size) async for key, obj in storage.list_objects(prefix)])

    # A prefix matches as text, as S3 matches one: "uploads/a" is also "uploads/ab/…".
    assert await listed("uploads/a") == [("uploads/a/1", 3), ("uploads/ab/2", 5)]
    assert await listed("uploads/a/") == [("uploads/a/1", 3)]
    # The root's listing holds objects only, not the directory partial writes go through.
    assert await listed("") == [("uploads/a/1", 3), ("uploads/ab/2", 5), ("videos/v.mp4", 7)]
    assert (tmp_path / "objects" / PARTIAL_DIR).is_dir()
    assert await listed("nothing/") == []
