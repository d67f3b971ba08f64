"""The host side of one run's sandbox: the agent's workspace, the pristine template, the harness
files, and the verdict's directories, each with its disk quota.

The workspace is a copy of a sandbox template turned into a git repository with one initial commit
(fixed author and dates, so the same template gives the same sha). `owner.json` names the process
that owns the run directory, so a later `testbed` invocation can remove what a killed run left.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import git  # GitPython

from testbed.sandbox import quota

AGENT_UID = 1000
AGENT_GID = 1000
OWNER_FILE = "owner.json"
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
_TEMPLATE_IGNORE = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc", ".git")
HARNESS_FILES = ("relay.py", "verdict.sh", "plugin/testbed_guard.py")


def work_root() -> Path:
    return Path(os.environ.get("TESTBED_WORK_DIR", "/var/tmp/testbed-work"))


@dataclass
class WorkspacePaths:
    root: Path        # everything the sandbox needs on the host for one run
    workspace: Path   # the agent's working tree (bind-mounted read-write; its own tmpfs)
    pristine: Path    # the untouched template (bind-mounted read-only)
    harness: Path     # relay, verdict script and lists (bind-mounted read-only)
    check: Path       # the verdict's copy of the tree and its report (its own tmpfs)
    quota_mb: int | None = None  # the workspace's disk quota; None when it has none

    @property
    def check_tree(self) -> Path:
        return self.check / "tree"

    @property
    def check_out(self) -> Path:
        return self.check / "out"


def check_protected(template: Path, protected: list[str]) -> None:
    """Every protected path must exist in the template, as a file or a directory of its own."""
    for p in protected:
        parts = Path(p).parts
        if not parts or p in (".", "") or ".." in parts:
            raise ValueError(f"protected path {p!r} must name a file or folder inside the repository")
        target = Path(template) / p
        if not target.exists() or target.is_symlink():
            raise FileNotFoundError(f"protected path {p!r} does not exist in template {template}")


def prepare_workspace(template: Path, run_id: str, protected: list[str], root: Path | None = None,
                      disk_mb: int | None = 512) -> WorkspacePaths:
    """Copy the template, make it a git repo with one commit, and stage the harness files."""
    template = Path(template)
    check_protected(template, protected)  # before anything is created: nothing to leave behind
    base = (root or work_root()) / run_id
    if base.exists():
        remove_tree(base)
    base.mkdir(parents=True)
    paths = WorkspacePaths(base, base / "workspace", base / "pristine", base / "harness", base / "check")
    (base / OWNER_FILE).write_text(json.dumps(owner_record(run_id)))
    try:
        limited = disk_mb is not None and quota.mount_tmpfs(paths.workspace, disk_mb, mode=0o755)
        paths.quota_mb = disk_mb if limited else None
        if disk_mb is not None:
            quota.mount_tmpfs(paths.check, disk_mb + 64, mode=0o755)
        paths.check.mkdir(exist_ok=True)
        paths.check_tree.mkdir()
        paths.check_out.mkdir()
        shutil.copytree(template, paths.workspace, ignore=_TEMPLATE_IGNORE, symlinks=True,
                        dirs_exist_ok=True)
        shutil.copytree(template, paths.pristine, ignore=_TEMPLATE_IGNORE, symlinks=True)
        paths.harness.mkdir()
        (paths.harness / "plugin").mkdir()
        (paths.harness / "protected.list").write_text("".join(p + "\n" for p in protected))
        here = Path(__file__).parent
        for name in HARNESS_FILES:
            shutil.copy2(here / Path(name).name, paths.harness / name)
            os.chmod(paths.harness / name, 0o755)
        env = {**os.environ, **_FIXED_ENV}
        g = git.Git(str(paths.workspace))
        g.execute(["git", "init", "-q", "-b", "main"], env=env)
        g.execute(["git", "add", "-A"], env=env)
        g.execute(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "initial"], env=env)
        if os.geteuid() == 0:
            # The pristine copy too: a write to a protected path must fail the way a read-only
            # mount fails (EROFS), not with a permission error that hides what happened.
            for tree in (paths.workspace, paths.pristine, paths.check_tree, paths.check_out):
                chown_tree(tree, AGENT_UID, AGENT_GID)
    except BaseException:
        remove_tree(base)
        raise
    return paths


def owner_record(run_id: str) -> dict:
    from testbed.sandbox.owner import process_start_ticks
    return {"run_id": run_id, "pid": os.getpid(), "start": process_start_ticks(os.getpid())}


def chown_tree(path: Path, uid: int, gid: int) -> None:
    os.lchown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def write_env_list(paths: WorkspacePaths, env: dict[str, str]) -> None:
    (paths.harness / "env.list").write_text("".join(f"{k}={v}\n" for k, v in env.items()))


def remove_workspace(paths: WorkspacePaths) -> None:
    remove_tree(paths.root)


def remove_tree(root: Path) -> None:
    """Unmount every quota below `root`, then delete it, whatever modes the agent left on it."""
    root = Path(root)
    for point in quota.mounts_below(root):
        quota.unmount(point)
    if not root.exists():
        return

    def fix(func, path, exc_info):  # a directory the agent made unreadable (chmod 000)
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
            func(path)
        except OSError:
            pass

    shutil.rmtree(root, onerror=fix)


def clear_dir(path: Path) -> None:
    """Empty a directory but keep it (a container may have it bind-mounted)."""
    for child in Path(path).iterdir():
        if child.is_dir() and not child.is_symlink():
            remove_tree(child)
        else:
            child.unlink()
