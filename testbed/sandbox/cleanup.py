"""Finding and removing what the project itself left behind, and only that.

- Containers: every one carries `testbed.run=<run_id>` plus the pid and kernel start time of the
  process that owns it. It is orphaned when that process is gone (a pid reused by another process
  has another start time).
- Work directories (`$TESTBED_WORK_DIR/RUN_ID`, with the workspace's quota mounts): `owner.json`
  names the owner the same way; an orphan's mounts are detached and the directory removed.

`sweep()` runs at the start of `testbed run`, `batch` and `intervene`, so a run killed with -9
leaves nothing behind for longer than the next invocation; `testbed cleanup` does the same on
demand (and, with `--all`, for live runs too).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from testbed.sandbox.owner import LABEL_BATCH, LABEL_OWNER_PID, LABEL_OWNER_START, LABEL_RUN, is_live


@dataclass
class Orphan:
    id: str
    run_id: str
    owner_pid: int | None
    live: bool
    kind: str = "container"  # container | workdir


def owner_is_live(labels: dict[str, str]) -> bool:
    return is_live(labels.get(LABEL_OWNER_PID, ""), labels.get(LABEL_OWNER_START, ""))


def project_containers(batch: str | None = None, client=None) -> list[Orphan]:
    from testbed.sandbox.docker import docker_client
    client = client or docker_client()
    filters = {"label": [f"{LABEL_BATCH}={batch}"] if batch else [LABEL_RUN]}
    out = []
    for c in client.containers.list(all=True, filters=filters):
        labels = c.labels or {}
        pid = labels.get(LABEL_OWNER_PID)
        out.append(Orphan(c.id, labels.get(LABEL_RUN, "?"), int(pid) if pid and pid.isdigit() else None,
                          owner_is_live(labels)))
    return out


def work_dirs(root: Path | None = None) -> list[Orphan]:
    from testbed.sandbox.workspace import OWNER_FILE, work_root
    root = Path(root or work_root())
    out = []
    try:
        children = sorted(root.iterdir())
    except OSError:
        return []
    for d in children:
        if not d.is_dir() or d.is_symlink():
            continue
        try:
            owner = json.loads((d / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not a run's work directory (a batch's, or a user's): never ours to remove
        pid = owner.get("pid")
        out.append(Orphan(str(d), str(owner.get("run_id", d.name)), pid if isinstance(pid, int) else None,
                          is_live(pid, owner.get("start")), kind="workdir"))
    return out


def cleanup(batch: str | None = None, include_live: bool = False, client=None) -> list[Orphan]:
    """Remove containers whose run is not live (or all of a batch's with include_live)."""
    from testbed.sandbox.docker import docker_client
    client = client or docker_client()
    removed = []
    for c in project_containers(batch, client):
        if c.live and not include_live:
            continue
        try:
            client.containers.get(c.id).remove(force=True)
            removed.append(c)
        except Exception:
            continue
    return removed


def cleanup_work_dirs(include_live: bool = False, root: Path | None = None) -> list[Orphan]:
    from testbed.sandbox.workspace import remove_tree
    removed = []
    for w in work_dirs(root):
        if w.live and not include_live:
            continue
        try:
            remove_tree(Path(w.id))
            removed.append(w)
        except OSError:
            continue
    return removed


def sweep(quiet: bool = False) -> list[Orphan]:
    """What dead runs left: their containers (when the engine answers) and work directories."""
    import sys
    removed: list[Orphan] = []
    try:
        from testbed.sandbox.docker import docker_client
        removed += cleanup(client=docker_client())
    except Exception:  # no engine: nothing of ours can be running in it either
        pass
    removed += cleanup_work_dirs()
    if removed and not quiet:
        runs = sorted({o.run_id for o in removed})
        print(f"testbed: removed what {len(runs)} dead run(s) left behind: "
              + ", ".join(f"{o.kind} of {o.run_id}" for o in removed[:6])
              + (" …" if len(removed) > 6 else ""), file=sys.stderr)
    return removed
