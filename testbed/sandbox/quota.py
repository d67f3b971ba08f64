"""Disk quotas for the host directories a sandbox writes: each one is its own size-limited tmpfs.

The agent's workspace and the verdict's copy of it are bind-mounted into containers, so a
`dd if=/dev/zero` in the sandbox would otherwise write to the host's disk without limit. A tmpfs
mounted on the directory caps it (writes past the size fail with ENOSPC, which the observation
names), and its pages are charged to the memory cgroup of the container that writes them, so the
container's memory limit bounds them too. Mounting needs root; without it the directory stays a
plain one and the run records that it had no quota.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

MNT_DETACH = 2
_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                                ctypes.c_char_p]
        _libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return _libc


def can_mount() -> bool:
    return os.geteuid() == 0 and os.environ.get("TESTBED_NO_QUOTA") != "1"


def mount_tmpfs(path: Path, size_mb: int, uid: int = 0, gid: int = 0, mode: int = 0o755) -> bool:
    """Mount a tmpfs of `size_mb` on `path` (created if needed). False when not permitted."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if not can_mount():
        return False
    opts = f"size={int(size_mb)}m,uid={uid},gid={gid},mode={mode:o},nr_inodes=200k".encode()
    rc = _lib().mount(b"tmpfs", os.fsencode(str(path)), b"tmpfs", 0, opts)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {path}: {os.strerror(err)}")
    return True


def unmount(path: Path) -> bool:
    """Detach a mount (lazily, so a process still inside cannot keep it busy)."""
    if not is_mount(path):
        return False
    return _lib().umount2(os.fsencode(str(path)), MNT_DETACH) == 0


def mounts_below(root: Path) -> list[Path]:
    """Mount points at or below `root`, deepest first (what must be unmounted before a delete)."""
    root_s = str(Path(root).resolve())
    found = []
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                point = _unescape(line.split()[4])
                if point == root_s or point.startswith(root_s + "/"):
                    found.append(Path(point))
    except OSError:
        return []
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def is_mount(path: Path) -> bool:
    return Path(path).resolve() in mounts_below(path)


def usage(path: Path) -> tuple[int, int] | None:
    """(bytes used, bytes total) of the filesystem at `path`."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_blocks * st.f_frsize


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
