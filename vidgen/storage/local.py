"""Local-directory storage: the embedded default."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from vidgen.core.storage import Storage, StoredObject

__all__ = ["PARTIAL_DIR", "STALE_PARTIAL_SECONDS", "LocalStorage"]

#: Where a file is written before it is renamed into place: a hidden directory under the root,
#: so that a process killed mid-copy leaves no half-written file among the objects.
PARTIAL_DIR = ".partial"
#: A partial file older than this was left by a process that died; no copy takes this long.
STALE_PARTIAL_SECONDS = 3600


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._swept = False
        self._made: set[Path] = set()  # directories known to exist

    @classmethod
    def from_url(cls, url: str) -> LocalStorage:
        return cls(Path(unquote(urlsplit(url).path)))

    def local_path(self, key: str) -> Path:
        # Keys are ours, but never let one escape the root. Normalised as text: no syscalls
        # (``resolve`` would stat every component), and nothing under the root is a symlink.
        path = Path(os.path.normpath(self.root / key))
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    async def put_file(
        self, key: str, source: Path, media_type: str, *, consume: bool = False
    ) -> int:
        return await asyncio.to_thread(self._put_file, key, source, consume)

    async def put_files(
        self, files: Sequence[tuple[str, Path, str]], *, consume: bool = False
    ) -> list[int]:
        return await asyncio.to_thread(
            lambda: [self._put_file(key, source, consume) for key, source, _ in files]
        )

    def _put_file(self, key: str, source: Path, consume: bool = False) -> int:
        try:
            return self._store(key, source, consume)
        except FileNotFoundError:
            if not self._made:
                raise
            # A directory made earlier may have been removed (an operator cleaning up): the
            # next try makes every one again, so the worker's retries can succeed.
            self._made.clear()
            return self._store(key, source, consume)

    def _store(self, key: str, source: Path, consume: bool) -> int:
        target = self.local_path(key)
        self._mkdir(target.parent)
        if consume:
            moved = _move_durably(source, target)
            if moved is not None:
                return moved
        partial = self.root / PARTIAL_DIR
        self._mkdir(partial)
        if not self._swept:
            self._swept = True
            _sweep_stale(partial)
        tmp = partial / f"{uuid.uuid4().hex}.tmp"
        try:
            with source.open("rb") as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return target.stat().st_size

    def _mkdir(self, path: Path) -> None:
        if path not in self._made:
            path.mkdir(parents=True, exist_ok=True)
            self._made.add(path)

    async def exists(self, key: str) -> bool:
        return self.local_path(key).is_file()

    async def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    async def list_objects(self, prefix: str) -> AsyncIterator[tuple[str, StoredObject]]:
        for key, size in await asyncio.to_thread(self._list, prefix):
            yield key, StoredObject(size=size)

    def _list(self, prefix: str) -> list[tuple[str, int]]:
        # Walk only the directory the prefix names (its part up to the last "/"), then match
        # the rest as text, as S3 matches a prefix.
        top = self.root / prefix.rpartition("/")[0]
        found: list[tuple[str, int]] = []
        for directory, subdirs, names in os.walk(top):
            if directory == str(self.root):
                # Not objects: partial writes and /ready's probes.
                subdirs[:] = [d for d in subdirs if d != PARTIAL_DIR]
                names = [n for n in names if not n.startswith(".ready-")]
            for name in names:
                path = Path(directory, name)
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                # One removed meanwhile (another process's sweep) is simply not listed.
                with contextlib.suppress(FileNotFoundError):
                    found.append((key, path.stat().st_size))
        return found

    def _check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".ready-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()


def _sweep_stale(partial: Path) -> None:
    """Remove what killed processes left half-written (once per process, at its first write)."""
    cutoff = time.time() - STALE_PARTIAL_SECONDS
    for path in partial.glob("*.tmp"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass  # another process swept it first


def _move_durably(source: Path, target: Path) -> int | None:
    """Rename ``source`` to ``target`` once its bytes are on disk, then make the rename itself
    durable; its size, or None when the two are on different filesystems (copy instead). A
    rename is atomic, so readers see the old object or the whole new one. A retry after the
    move finds the source gone and the object in place, and succeeds again."""
    try:
        fd = os.open(source, os.O_RDONLY)
    except FileNotFoundError:
        if target.is_file():
            return target.stat().st_size
        raise
    try:
        os.fsync(fd)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            return None
        raise
    _fsync_dir(target.parent)
    return size


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable, not only the file's bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
