"""Who owns a run: a pid plus the kernel start time of that process (a reused pid is someone else)."""
from __future__ import annotations

LABEL_RUN = "testbed.run"
LABEL_OWNER_PID = "testbed.owner_pid"
LABEL_OWNER_START = "testbed.owner_start"
LABEL_BATCH = "testbed.batch"
LABEL_ROLE = "testbed.role"  # agent | verdict


def process_start_ticks(pid: int) -> str:
    """The kernel start time of a process: with the pid it identifies a process uniquely."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def is_zombie(pid: int) -> bool:
    """A killed owner that nobody has reaped yet still has its /proc entry: it is not live."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def is_live(pid: object, start: object) -> bool:
    try:
        pid_i = int(str(pid))
    except ValueError:
        return False
    ticks = process_start_ticks(pid_i)
    return bool(ticks) and ticks == str(start) and not is_zombie(pid_i)
