"""Finding and removing the project's own containers, and only those.

Every container carries `testbed.run=<run_id>` plus the pid and kernel start time of the process
that owns it. A container is orphaned when that process is gone (a pid reused by another process
has another start time).
"""
from __future__ import annotations

from dataclasses import dataclass

from testbed.sandbox.docker import (LABEL_BATCH, LABEL_OWNER_PID, LABEL_OWNER_START, LABEL_RUN,
                                    docker_client, process_start_ticks)


@dataclass
class Orphan:
    id: str
    run_id: str
    owner_pid: int | None
    live: bool


def owner_is_live(labels: dict[str, str]) -> bool:
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return False
    start = labels.get(LABEL_OWNER_START, "")
    ticks = process_start_ticks(pid)
    return bool(ticks) and ticks == start and not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed owner that nobody has reaped yet still has its /proc entry: it is not live."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def project_containers(batch: str | None = None) -> list[Orphan]:
    client = docker_client()
    filters = {"label": [f"{LABEL_BATCH}={batch}"] if batch else [LABEL_RUN]}
    out = []
    for c in client.containers.list(all=True, filters=filters):
        labels = c.labels or {}
        pid = labels.get(LABEL_OWNER_PID)
        out.append(Orphan(c.id, labels.get(LABEL_RUN, "?"), int(pid) if pid and pid.isdigit() else None,
                          owner_is_live(labels)))
    return out


def cleanup(batch: str | None = None, include_live: bool = False) -> list[Orphan]:
    """Remove containers whose run is not live (or all of a batch's with include_live)."""
    client = docker_client()
    removed = []
    for c in project_containers(batch):
        if c.live and not include_live:
            continue
        try:
            client.containers.get(c.id).remove(force=True)
            removed.append(c)
        except Exception:
            continue
    return removed
