"""The shadow git: the workspace after every step, in a bare repository outside the sandbox.

The repository is real git (any git command reads it), but the harness writes it itself: it walks
the workspace with `safefs` (no symlink is ever followed, no FIFO opened, nothing read through a
path the agent controls), hashes only files whose stat changed, and writes loose objects, trees and
commits directly. git itself never looks at the work tree, so it never resolves the agent's `.git`
(a `.git/HEAD` that links to `/proc/self/environ`, a `gitdir:` file that points at a host path),
and nested repositories are recorded as the plain files they hold, not as gitlinks. A step that
changed nothing costs one directory walk and no process.

Not recorded: every directory named `.git` (the agent's own repositories; their state is read
separately by `read_workspace_head`), caches (`__pycache__`, `.pytest_cache`, `*.pyc`), special
files, and files larger than `max_file_bytes` (a sparse file of gigabytes must not be made real):
those are listed in the snapshot's `omitted`.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import select
import stat
import subprocess
import time
import weakref
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from testbed.log import FileChange, Snapshot
from testbed.sandbox import safefs

MAX_FILE_BYTES = 16 * 1024 * 1024
SKIP_DIRS = frozenset({b".git", b"__pycache__", b".pytest_cache"})
_RACY_NS = 1_000_000_000  # a file modified this close to the walk that cached it is hashed again
_IDENT = b"testbed <testbed@sandbox.invalid>"
_DIFF_TREE = ("diff-tree", "-r", "--no-renames", "--raw", "--numstat", "-z")
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_OPTIONAL_LOCKS": "0",
            "LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _skip_file(name: bytes) -> bool:
    return name.endswith(b".pyc") or name == b".git"


@dataclass
class Capture:
    """The work tree at one moment: its tree object and what was left out of it."""

    tree: str
    omitted: list[dict] = field(default_factory=list)
    entries: int = 0


class ShadowRepo:
    """Commits the whole work tree after each step; see the module docstring for what it records."""

    def __init__(self, git_dir: Path, work_tree: Path, max_file_bytes: int = MAX_FILE_BYTES):
        self.git_dir = Path(git_dir).resolve()
        self.work_tree = Path(work_tree).resolve()
        self.max_file_bytes = max_file_bytes
        self.head: str | None = None
        self._tree: str | None = None
        # rel path -> (stat key, mode, blob sha, cached at ns)
        self._cache: dict[bytes, tuple[tuple, bytes, bytes, int]] = {}
        self._known: set[bytes] = set()  # objects known to exist (hex sha bytes)
        self._env = {**_GIT_ENV, "GIT_DIR": str(self.git_dir)}
        self._capture: Capture | None = None  # the last capture's tree, reused when nothing changed
        self._differ: _Differ | None = None

    # -- repository ------------------------------------------------------------------------------
    def init(self) -> str:
        for sub in ("objects", "refs/heads", "refs/tags", "info"):
            (self.git_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.git_dir / "HEAD").write_text("ref: refs/heads/main\n")
        (self.git_dir / "config").write_text(
            "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n")
        (self.git_dir / "description").write_text("testbed shadow repository\n")
        return self.snapshot("initial").commit or ""

    def git(self, *args: str, strip: bool = True) -> str:
        """A read-only git command on the shadow repository (never on the work tree)."""
        out = subprocess.run(["git", "-c", "core.quotepath=off", *args], env=self._env,
                             capture_output=True, check=True).stdout.decode("utf-8", "replace")
        return out.strip("\n") if strip else out

    def _write(self, kind: bytes, data: bytes) -> bytes:
        header = kind + b" " + str(len(data)).encode() + b"\0"
        sha = hashlib.sha1(header + data).hexdigest().encode()
        if sha in self._known:
            return sha
        d = self.git_dir / "objects" / sha[:2].decode()
        path = d / sha[2:].decode()
        if not path.exists():
            d.mkdir(exist_ok=True)
            tmp = d / f".tmp-{os.getpid()}-{sha[2:10].decode()}"
            with open(tmp, "wb") as fh:
                fh.write(zlib.compress(header + data, 1))
            os.replace(tmp, path)
        self._known.add(sha)
        return sha

    def read_object(self, sha: str) -> tuple[bytes, bytes]:
        raw = zlib.decompress((self.git_dir / "objects" / sha[:2] / sha[2:]).read_bytes())
        header, _, data = raw.partition(b"\0")
        return header.split(b" ", 1)[0], data

    # -- capture -----------------------------------------------------------------------------------
    def capture(self) -> Capture:
        """Write the work tree's blobs and trees (no commit) and return its tree."""
        now = time.time_ns()
        cache: dict[bytes, tuple[tuple, bytes, bytes, int]] = {}
        files: dict[bytes, tuple[bytes, bytes]] = {}  # rel -> (mode, sha)
        omitted: list[dict] = []
        hashed = 0  # files read and hashed in this walk: with none, the tree is the last one
        for e in safefs.walk(self.work_tree, skip_dirs=SKIP_DIRS):
            if e.kind == "dir" or _skip_file(e.name):
                continue
            st = e.st
            key = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            old = self._cache.get(e.rel)
            if old is not None and old[0] == key and st.st_mtime_ns < old[3] - _RACY_NS:
                cache[e.rel] = old
                files[e.rel] = (old[1], old[2])
                continue
            hashed += 1
            if e.kind == "link":
                target = safefs.readlink_at(e.dir_fd, e.name)
                if target is None:
                    continue
                mode, data = b"120000", target
            elif e.kind == "file":
                if st.st_size > self.max_file_bytes:
                    omitted.append({"path": _text(e.rel), "reason": "too large", "size": st.st_size})
                    continue
                data = safefs.read_at(e.dir_fd, e.name, self.max_file_bytes + 1, expect=st)
                if data is None or len(data) > self.max_file_bytes:
                    omitted.append({"path": _text(e.rel), "reason": "unreadable" if data is None
                                    else "too large", "size": st.st_size})
                    continue
                mode = b"100755" if st.st_mode & stat.S_IXUSR else b"100644"
            else:
                omitted.append({"path": _text(e.rel), "reason": "special file", "size": 0})
                continue
            sha = self._write(b"blob", data)
            cache[e.rel] = (key, mode, sha, now)
            files[e.rel] = (mode, sha)
        same = hashed == 0 and len(cache) == len(self._cache) and self._capture is not None
        self._cache = cache
        if same:  # every file the same inode and stat as last time, none gone: the same tree
            return Capture(tree=self._capture.tree, omitted=omitted, entries=len(files))
        self._capture = Capture(tree=self._write_tree(files).decode(), omitted=omitted, entries=len(files))
        return self._capture

    def _write_tree(self, files: dict[bytes, tuple[bytes, bytes]]) -> bytes:
        root: dict[bytes, object] = {}
        for rel, entry in files.items():
            node = root
            parts = rel.split(b"/")
            for part in parts[:-1]:
                nxt = node.setdefault(part, {})
                if not isinstance(nxt, dict):  # a file and a directory of one name cannot both be
                    break
                node = nxt
            else:
                node[parts[-1]] = entry
        return self._tree_object(root)

    def _tree_object(self, node: dict) -> bytes:
        items = []
        for name, child in node.items():
            if isinstance(child, dict):
                items.append((name + b"/", b"40000", name, self._tree_object(child)))
            else:
                mode, sha = child
                items.append((name, mode, name, sha))
        items.sort(key=lambda t: t[0])
        body = b"".join(mode + b" " + name + b"\0" + bytes.fromhex(sha.decode())
                        for _, mode, name, sha in items)
        return self._write(b"tree", body)

    # -- commits ---------------------------------------------------------------------------------
    def snapshot(self, message: str) -> Snapshot:
        """Commit the work tree if it changed; return the commit and what changed since the last."""
        start = time.perf_counter()
        cap = self.capture()
        has_git, ws_head = read_workspace_head(self.work_tree)
        if cap.tree == self._tree and self.head is not None:
            return Snapshot(commit=self.head, parent=self.head, changed=False, workspace_git=has_git,
                            workspace_head=ws_head, duration_ms=_ms(start), omitted=cap.omitted)
        parent = self.head
        commit = self.commit(cap.tree, message)
        files = self.changes(parent, commit) if parent else []
        return Snapshot(
            commit=commit, parent=parent, changed=parent is not None,
            files_changed=len(files), insertions=sum(f.insertions for f in files),
            deletions=sum(f.deletions for f in files), files=files,
            workspace_git=has_git, workspace_head=ws_head, duration_ms=_ms(start), omitted=cap.omitted)

    def commit(self, tree: str, message: str) -> str:
        stamp = f" {int(time.time())} +0000".encode()
        body = b"tree " + tree.encode() + b"\n"
        if self.head:
            body += b"parent " + self.head.encode() + b"\n"
        body += b"author " + _IDENT + stamp + b"\ncommitter " + _IDENT + stamp + b"\n\n"
        body += message.encode("utf-8", "replace") + b"\n"
        commit = self._write(b"commit", body).decode()
        self.set_head(commit, tree)
        return commit

    def set_head(self, commit: str, tree: str | None = None) -> None:
        ref = self.git_dir / "refs" / "heads" / "main"
        tmp = ref.with_name(".main.tmp")
        tmp.write_text(commit + "\n")
        os.replace(tmp, ref)
        self.head = commit
        self._tree = tree if tree is not None else self.tree_of(commit)

    def tree_of(self, commit: str) -> str:
        kind, data = self.read_object(commit)
        if kind != b"commit" or not data.startswith(b"tree "):
            raise ValueError(f"{commit} is not a commit")
        return data[5:45].decode()

    def changes(self, old: str, new: str) -> list[FileChange]:
        """What changed between two commits, with git's own line counts. One long-lived
        `git diff-tree --stdin` answers every step (a process per step would cost more than the
        rest of the snapshot); if it fails, a one-off `git diff-tree` does."""
        if self._differ is None:
            self._differ = _Differ(self._env)
        out = self._differ.diff(old, new)
        if out is None:  # the next step starts a new one
            self._differ.close()
            self._differ = None
            out = self.git(*_DIFF_TREE, old, new, strip=False)
        return parse_raw_numstat(out)

    def close(self) -> None:
        if self._differ is not None:
            self._differ.close()
            self._differ = None

    def diff(self, old: str, new: str, path: str | None = None) -> str:
        args = ["diff", "--no-renames", old, new]
        if path:
            args += ["--", path]
        return self.git(*args, strip=False)

    def show_file(self, commit: str, path: str) -> str:
        return self.git("show", f"{commit}:{path}", strip=False)

    # -- checkout ------------------------------------------------------------------------------------
    def entries(self, tree: str, prefix: bytes = b"") -> list[tuple[bytes, bytes, str]]:
        """(path, mode, blob sha) for every file and link of a tree, recursively."""
        kind, data = self.read_object(tree)
        if kind != b"tree":
            raise ValueError(f"{tree} is not a tree")
        out: list[tuple[bytes, bytes, str]] = []
        i = 0
        while i < len(data):
            sp = data.index(b" ", i)
            nul = data.index(b"\0", sp)
            mode, name = data[i:sp], data[sp + 1:nul]
            sha = data[nul + 1:nul + 21].hex()
            i = nul + 21
            if mode == b"40000":
                out += self.entries(sha, prefix + name + b"/")
            else:
                out.append((prefix + name, mode, sha))
        return out

    def materialize(self, tree: str, dest: Path) -> int:
        """Write a tree's files into `dest` (a fresh, harness-owned directory); returns the count.
        Symlinks are recreated as links and never followed."""
        dest = Path(dest)
        n = 0
        for rel, mode, sha in self.entries(tree):
            target = dest / os.fsdecode(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            _, data = self.read_object(sha)
            if mode == b"120000":
                os.symlink(os.fsdecode(data), target)
            else:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             0o755 if mode == b"100755" else 0o644)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            n += 1
        return n


class _Differ:
    """A `git diff-tree --stdin` kept running: each request is "NEW OLD", then a line of a random
    token that git echoes back once the diff is written (so no path can end a reply early)."""

    TIMEOUT = 30.0

    def __init__(self, env: dict[str, str]):
        self.token = secrets.token_hex(16).encode()
        self.proc: subprocess.Popen | None = subprocess.Popen(
            ["git", "-c", "core.quotepath=off", *_DIFF_TREE, "--stdin", "--no-commit-id"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self._finalizer = weakref.finalize(self, _stop, self.proc)

    def diff(self, old: str, new: str) -> str | None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return None
        end = self.token + b"\n"
        try:
            proc.stdin.write(f"{new} {old}\n".encode() + end)
            proc.stdin.flush()
            fd, buf = proc.stdout.fileno(), b""
            deadline = time.monotonic() + self.TIMEOUT
            while not (buf.endswith(end) and (len(buf) == len(end) or buf[-len(end) - 1:-len(end)] == b"\0")):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise OSError("git diff-tree did not answer")
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise OSError("git diff-tree exited")
                buf += chunk
        except (OSError, ValueError):
            self.close()
            return None
        return buf[:-len(end)].decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc is not None:
            self._finalizer()
            self.proc = None


def _stop(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_workspace_head(workspace: Path) -> tuple[bool, str | None]:
    """(does the agent's .git exist, the commit its HEAD points at), read without running git and
    without following any link: `.git`, `HEAD` and the ref are read only as plain files under plain
    directories, refs only below `refs/`, and at most 4 KB of each."""
    try:
        st = os.lstat(Path(workspace) / ".git")
    except OSError:
        return False, None
    if not stat.S_ISDIR(st.st_mode):
        return True, None  # a `gitdir:` file or a link: a repository we do not read through
    head = safefs.read_regular(workspace, ".git/HEAD", 4096)
    if head is None:
        return True, None
    text = head.decode("utf-8", "replace").strip()
    if not text.startswith("ref:"):
        return True, (text if _is_sha(text) else None)
    ref = text[4:].strip()
    if not ref.startswith("refs/") or ".." in ref.split("/"):
        return True, None
    value = safefs.read_regular(workspace, f".git/{ref}", 4096)
    if value is not None:
        sha = value.decode("utf-8", "replace").strip()
        return True, (sha if _is_sha(sha) else None)
    packed = safefs.read_regular(workspace, ".git/packed-refs", 1 << 20)
    for line in (packed or b"").decode("utf-8", "replace").splitlines():
        if line.endswith(" " + ref) and _is_sha(line.split(" ", 1)[0]):
            return True, line.split(" ", 1)[0]
    return True, None  # an unborn branch


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _text(rel: bytes) -> str:
    return rel.decode("utf-8", "replace")


def parse_raw_numstat(out: str) -> list[FileChange]:
    """Parse `git diff-tree -r --raw --numstat -z` output into per-file changes."""
    fields = out.split("\0")
    statuses: dict[str, str] = {}
    changes: list[FileChange] = []
    i = 0
    while i < len(fields):
        f = fields[i]
        if f.startswith(":"):
            statuses[fields[i + 1]] = f.split()[-1][:1]
            i += 2
            continue
        if "\t" in f:
            ins, dels, path = f.split("\t", 2)
            if not path:
                i += 1
                path = fields[i]
            changes.append(FileChange(path=path, insertions=int(ins) if ins != "-" else 0,
                                      deletions=int(dels) if dels != "-" else 0,
                                      status=statuses.get(path, "M")))
        i += 1
    return changes


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
