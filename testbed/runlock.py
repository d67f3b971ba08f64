"""Liveness of runs: an exclusive flock held by the process that runs it.

The kernel drops a flock when its process dies, even by `kill -9`, so "can I take the lock?"
answers "is the owner gone?" without trusting pids. Each run directory has one (`.lock`, with the
owner's pid and start time written in it for humans); batches lock their runs the same way.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from pathlib import Path

from testbed.sandbox.owner import process_start_ticks

LOCK_FILE = ".lock"


class FileLock:
    """An exclusive flock on a file; released by the kernel when its process dies (even by -9)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self, timeout: float = 0.0, note: str | None = None) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.1)
        if note is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode(), 0)
        self.fd = fd
        return True

    def holder_note(self) -> str:
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class RunLock(FileLock):
    def __init__(self, run_dir: Path):
        super().__init__(Path(run_dir) / LOCK_FILE)
        self.owner = {"pid": os.getpid(), "start": process_start_ticks(os.getpid())}

    def acquire(self, timeout: float = 0.0, note: str | None = None) -> bool:  # type: ignore[override]
        if not super().acquire(timeout, note or json.dumps(self.owner)):
            raise RuntimeError(f"{self.path.parent} is in use by another process ({self.holder_note()})")
        return True


def run_is_live(run_dir: Path) -> bool:
    """True while some process holds the run's lock."""
    path = Path(run_dir) / LOCK_FILE
    if not path.exists():
        return False
    probe = FileLock(path)
    try:
        if probe.acquire():
            return False
        return True
    finally:
        probe.release()
