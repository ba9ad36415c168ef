"""Local storage: files appear whole or not at all, and what a killed writer left is swept."""

from __future__ import annotations

import os
import time
from pathlib import Path

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
