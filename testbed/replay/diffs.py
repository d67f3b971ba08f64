"""A step's diff from the run's shadow git (parent → commit of its snapshot), fetched on demand."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.log import SHADOW_DIR

MAX_DIFF_LINES = 2000


class DiffSource:
    def __init__(self, run_dir: Path):
        self.git_dir = Path(run_dir) / SHADOW_DIR
        self._repo: Any = None
        self._cache: dict[tuple[str, str], tuple[str | None, str | None]] = {}

    def diff(self, step: Any) -> tuple[str | None, str | None]:
        """(diff text, None) or (None, why there is none)."""
        snap = step.snapshot
        if snap is None or not snap.commit:
            return None, "no snapshot recorded for this step"
        if not snap.changed or not snap.parent or snap.parent == snap.commit:
            return None, "the workspace did not change in this step"
        if not self.git_dir.is_dir():
            return None, f"no shadow git in this run directory ({SHADOW_DIR}/ is missing)"
        key = (snap.parent, snap.commit)
        if key not in self._cache:
            self._cache[key] = self._fetch(*key)
        return self._cache[key]

    def _fetch(self, parent: str, commit: str) -> tuple[str | None, str | None]:
        try:
            if self._repo is None:
                from testbed.sandbox.shadow import ShadowRepo
                # The work tree does not matter for a diff between two commits.
                self._repo = ShadowRepo(self.git_dir, self.git_dir.parent)
            text = self._repo.diff(parent, commit)
        except Exception as exc:  # git missing, objects missing, a damaged repository
            first = str(getattr(exc, "stderr", "") or exc).strip().splitlines()
            return None, f"diff unavailable: {first[-1] if first else type(exc).__name__}"
        lines = text.splitlines()
        if len(lines) > MAX_DIFF_LINES:
            text = "\n".join(lines[:MAX_DIFF_LINES]) + \
                f"\n… {len(lines) - MAX_DIFF_LINES} more diff lines not shown " \
                f"(git --git-dir={self.git_dir} diff {parent[:12]} {commit[:12]})\n"
        return text, None
