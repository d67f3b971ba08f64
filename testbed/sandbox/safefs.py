"""Reading a tree the agent controls, from the host, without ever following the agent's paths.

Everything under the workspace is the agent's: any name can be a symlink to a host file
(`.git/HEAD -> /proc/self/environ`), a FIFO that blocks a reader forever, a device, or a sparse file
of many gigabytes. Every open here is relative to a directory descriptor, with `O_NOFOLLOW` on each
component, so a directory swapped for a symlink between listing and opening cannot lead the host
outside the tree; only regular files are read, and only up to a limit.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Iterator

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafePath(OSError):
    """A path component that is not a plain directory or file (a symlink, a FIFO, `..`)."""


def _components(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePath(errno.EPERM, f"'..' in {rel!r}")
    return parts


def open_dir(root: str | os.PathLike, rel: str = "") -> int:
    """A descriptor for `root/rel`, refusing a symlink at any component below `root`."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in _components(rel):
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(root: str | os.PathLike, rel: str, limit: int) -> bytes | None:
    """The first `limit` bytes of the regular file `root/rel`; None when it is missing or is not a
    regular file reached through plain directories (a symlink anywhere, a FIFO, a device)."""
    parts = _components(rel)
    if not parts:
        return None
    try:
        dfd = open_dir(root, "/".join(parts[:-1]))
    except OSError:
        return None
    try:
        return read_at(dfd, parts[-1], limit)
    finally:
        os.close(dfd)


def read_at(dir_fd: int, name: str | bytes, limit: int, expect: os.stat_result | None = None) -> bytes | None:
    """Read a regular file by name relative to `dir_fd` (no symlinks, no FIFOs); None otherwise.
    With `expect`, the file must still be the inode that was listed."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if expect is not None and (st.st_ino, st.st_dev) != (expect.st_ino, expect.st_dev):
            return None
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


@dataclass
class Entry:
    rel: bytes              # path relative to the root, '/'-separated, raw bytes
    kind: str               # file | link | dir | other
    st: os.stat_result
    dir_fd: int             # valid only while the walk is at this entry
    name: bytes


def walk(root: str | os.PathLike, skip_dirs: frozenset[bytes] = frozenset(),
         max_entries: int = 200_000) -> Iterator[Entry]:
    """Every entry below `root` (depth first, sorted), without following any symlink. Directories
    named in `skip_dirs` are not entered (and not yielded). The walk stops after `max_entries`."""
    count = 0
    top = open_dir(root)
    stack: list[tuple[int, bytes]] = [(top, b"")]
    try:
        while stack:
            dfd, prefix = stack.pop()
            try:
                with os.scandir(dfd) as it:
                    names = sorted((os.fsencode(e.name), e) for e in it)
            except OSError:
                os.close(dfd)
                continue
            subdirs: list[tuple[int, bytes]] = []
            for name, e in names:
                count += 1
                if count > max_entries:
                    return
                try:
                    st = os.stat(e.name, dir_fd=dfd, follow_symlinks=False)
                except OSError:
                    continue
                rel = prefix + name
                if stat.S_ISDIR(st.st_mode):
                    if name in skip_dirs:
                        continue
                    yield Entry(rel, "dir", st, dfd, name)
                    try:
                        sub = os.open(e.name, _DIR_FLAGS, dir_fd=dfd)
                    except OSError:
                        continue
                    subdirs.append((sub, rel + b"/"))
                elif stat.S_ISREG(st.st_mode):
                    yield Entry(rel, "file", st, dfd, name)
                elif stat.S_ISLNK(st.st_mode):
                    yield Entry(rel, "link", st, dfd, name)
                else:
                    yield Entry(rel, "other", st, dfd, name)
            os.close(dfd)
            stack.extend(reversed(subdirs))
    finally:
        for dfd, _ in stack:
            try:
                os.close(dfd)
            except OSError:
                pass


def readlink_at(dir_fd: int, name: str | bytes) -> bytes | None:
    try:
        target = os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return None
    return os.fsencode(target)
