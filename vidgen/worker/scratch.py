"""Scratch directories for the jobs a worker runs: one per job, emptied and kept for the next.

Creating and removing a directory per job cost more than the rest of a no-op job's file handling
on some disks, and a job's outputs have usually been moved into storage by the time it settles, so
there is little or nothing to delete: a directory is emptied when its job settles and lent to the
next job. At most one per slot is kept, and only one that could be emptied; nothing a job left in
its directory outlives the job.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

__all__ = ["ScratchPool"]


class ScratchPool:
    def __init__(self, root: Path, keep: int) -> None:
        self.root = root
        self.keep = keep
        self._ready: list[Path] = []  # emptied, ready for the next job

    def take(self) -> Path:
        """An empty directory for one job."""
        if self._ready:
            return self._ready.pop()
        self.root.mkdir(parents=True, exist_ok=True)  # also for a job run outside Worker.run
        return Path(tempfile.mkdtemp(prefix="job-", dir=self.root))

    def give_back(self, scratch: Path) -> None:
        """Empty a job's directory and keep it for the next job, or remove it."""
        try:
            for entry in list(scratch.iterdir()):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink(missing_ok=True)
            keep = len(self._ready) < self.keep and not any(scratch.iterdir())
        except OSError:
            keep = False
        if keep:
            self._ready.append(scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    def clear(self) -> None:
        """Remove the directories kept for later (the worker is stopping)."""
        while self._ready:
            shutil.rmtree(self._ready.pop(), ignore_errors=True)
