"""The agent's workspace on the host, and the shadow git that records it after every step.

The workspace is a copy of a sandbox template turned into a git repository with one initial commit.
The shadow repository lives in the run directory (`shadow.git`), outside the container: its git dir
is never visible to the agent, so `rm -rf .git` or `rm -rf *` in the workspace cannot touch it.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import git  # GitPython

from testbed.log import FileChange, Snapshot

AGENT_UID = 1000
AGENT_GID = 1000
# Fixed identity and dates make the initial commits reproducible (same template, same sha).
_FIXED_ENV = {
    "GIT_AUTHOR_NAME": "testbed",
    "GIT_AUTHOR_EMAIL": "testbed@sandbox.invalid",
    "GIT_COMMITTER_NAME": "testbed",
    "GIT_COMMITTER_EMAIL": "testbed@sandbox.invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}
# Build and cache noise that would make every step look like a change.
SNAPSHOT_EXCLUDES = (":(exclude,glob)**/__pycache__/**", ":(exclude,glob)**/.pytest_cache/**",
                     ":(exclude,glob)**/*.pyc")
_TEMPLATE_IGNORE = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc", ".git")


def work_root() -> Path:
    return Path(os.environ.get("TESTBED_WORK_DIR", "/var/tmp/testbed-work"))


@dataclass
class WorkspacePaths:
    root: Path       # everything the sandbox needs on the host for one run
    workspace: Path  # the agent's working tree (bind-mounted read-write)
    pristine: Path   # the untouched template (bind-mounted read-only)
    harness: Path    # checker script and lists (bind-mounted read-only)


def prepare_workspace(template: Path, run_id: str, protected: list[str],
                      root: Path | None = None) -> WorkspacePaths:
    """Copy the template, make it a git repo with one commit, and stage the harness files."""
    template = Path(template)
    base = (root or work_root()) / run_id
    if base.exists():
        shutil.rmtree(base)
    paths = WorkspacePaths(base, base / "workspace", base / "pristine", base / "harness")
    shutil.copytree(template, paths.workspace, ignore=_TEMPLATE_IGNORE, symlinks=True)
    shutil.copytree(template, paths.pristine, ignore=_TEMPLATE_IGNORE, symlinks=True)
    for p in protected:
        if not (paths.pristine / p).exists():
            raise FileNotFoundError(f"protected path {p!r} does not exist in template {template}")
    paths.harness.mkdir(parents=True)
    (paths.harness / "protected.list").write_text("".join(p + "\n" for p in protected))
    shutil.copy2(Path(__file__).with_name("check.sh"), paths.harness / "check")
    os.chmod(paths.harness / "check", 0o755)
    env = {**os.environ, **_FIXED_ENV}
    g = git.Git(str(paths.workspace))
    g.execute(["git", "init", "-q", "-b", "main"], env=env)
    g.execute(["git", "add", "-A"], env=env)
    g.execute(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "initial"], env=env)
    if os.geteuid() == 0:
        # The pristine copy too: a write to a protected path must fail the way a read-only
        # mount fails (EROFS), not with a permission error that hides what happened.
        _chown_tree(paths.workspace, AGENT_UID, AGENT_GID)
        _chown_tree(paths.pristine, AGENT_UID, AGENT_GID)
    return paths


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.lchown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def write_env_list(paths: WorkspacePaths, env: dict[str, str]) -> None:
    (paths.harness / "env.list").write_text("".join(f"{k}={v}\n" for k, v in env.items()))


def remove_workspace(paths: WorkspacePaths) -> None:
    shutil.rmtree(paths.root, ignore_errors=True)


def read_workspace_head(workspace: Path) -> tuple[bool, str | None]:
    """(does the agent's .git exist, the commit its HEAD points at), read without running git."""
    gitdir = workspace / ".git"
    head_file = gitdir / "HEAD"
    try:
        head = head_file.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return gitdir.exists(), None
    if not head.startswith("ref:"):
        return True, head or None
    ref = head[4:].strip()
    try:
        return True, (gitdir / ref).read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        pass
    try:
        for line in (gitdir / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return True, line.split(" ", 1)[0]
    except (OSError, UnicodeDecodeError):
        pass
    return True, None  # an unborn branch


class ShadowRepo:
    """A git repository outside the workspace that commits the whole work tree after each step."""

    def __init__(self, git_dir: Path, work_tree: Path):
        self.git_dir = Path(git_dir).resolve()
        self.work_tree = Path(work_tree).resolve()
        self._env = {**os.environ, **_FIXED_ENV, "GIT_DIR": str(self.git_dir),
                     "GIT_WORK_TREE": str(self.work_tree)}
        self._env.pop("GIT_AUTHOR_DATE")
        self._env.pop("GIT_COMMITTER_DATE")
        self._git = git.Git(str(self.work_tree))
        self.head: str | None = None
        self._tree: str | None = None

    def _run(self, *args: str, strip: bool = True) -> str:
        return self._git.execute(["git", "-c", "core.safecrlf=false", "-c", "core.autocrlf=false",
                                  "-c", "safe.directory=*", *args], env=self._env,
                                 strip_newline_in_stdout=strip)

    def init(self) -> str:
        git.Repo.init(str(self.git_dir), bare=True)
        return self.snapshot("initial").commit or ""

    def snapshot(self, message: str) -> Snapshot:
        """Commit the work tree if it changed; return the commit and what changed since the last."""
        start = time.perf_counter()
        # --force: the agent's own .gitignore must not hide files from the record.
        self._run("add", "--all", "--force", "--", ".", *SNAPSHOT_EXCLUDES)
        tree = self._run("write-tree")
        has_git, ws_head = read_workspace_head(self.work_tree)
        if tree == self._tree and self.head is not None:
            return Snapshot(commit=self.head, parent=self.head, changed=False, workspace_git=has_git,
                            workspace_head=ws_head, duration_ms=_ms(start))
        parent = self.head
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args[2:2] = ["-p", parent]
        commit = self._run(*args)
        self._run("update-ref", "refs/heads/main", commit)
        self.head, self._tree = commit, tree
        files = self._changes(parent, commit) if parent else []
        return Snapshot(
            commit=commit, parent=parent, changed=parent is not None,
            files_changed=len(files), insertions=sum(f.insertions for f in files),
            deletions=sum(f.deletions for f in files), files=files,
            workspace_git=has_git, workspace_head=ws_head, duration_ms=_ms(start))

    def _changes(self, old: str, new: str) -> list[FileChange]:
        out = self._run("diff-tree", "-r", "--no-renames", "--raw", "--numstat", "-z", old, new,
                        strip=False)
        return parse_raw_numstat(out)

    def diff(self, old: str, new: str, path: str | None = None) -> str:
        args = ["diff", "--no-renames", old, new]
        if path:
            args += ["--", path]
        return self._run(*args, strip=False)

    def show_file(self, commit: str, path: str) -> str:
        return self._run("show", f"{commit}:{path}", strip=False)


def parse_raw_numstat(out: str) -> list[FileChange]:
    """Parse `git diff-tree -r --raw --numstat -z` output into per-file changes."""
    fields = out.split("\0")
    statuses: dict[str, str] = {}
    changes: list[FileChange] = []
    i = 0
    while i < len(fields):
        f = fields[i]
        if f.startswith(":"):
            status = f.split()[-1][:1]
            statuses[fields[i + 1]] = status
            i += 2
            continue
        if "\t" in f:
            ins, dels, path = f.split("\t", 2)
            if not path:  # -z puts the path in the next field for renames; we disable renames
                i += 1
                path = fields[i]
            changes.append(FileChange(path=path, insertions=int(ins) if ins != "-" else 0,
                                      deletions=int(dels) if dels != "-" else 0,
                                      status=statuses.get(path, "M")))
        i += 1
    return changes


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
