"""A run directory, loaded: the events grouped the way scorers, replay and reports need them."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.log import EVENTS_FILE, RUN_FILE, SCORES_FILE, SHADOW_DIR, read_events


class RunNotFound(ValueError):
    pass


def resolve_run(ref: str | Path, runs_dir: Path | None = None) -> Path:
    """A run directory from a path or a run id under the runs directory."""
    p = Path(ref)
    if (p / EVENTS_FILE).is_file():
        return p
    base = Path(runs_dir or os.environ.get("TESTBED_RUNS_DIR", "runs"))
    if (base / str(ref) / EVENTS_FILE).is_file():
        return base / str(ref)
    matches = sorted(base.glob(f"*{ref}*")) if base.is_dir() and str(ref) else []
    matches = [m for m in matches if (m / EVENTS_FILE).is_file()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RunNotFound(f"{ref!r} matches {len(matches)} runs under {base}/; be more specific")
    raise RunNotFound(f"no run directory {ref!r} (looked for {p}/{EVENTS_FILE} and under {base}/)")


@dataclass
class RunData:
    path: Path
    events: list[Any]
    torn_tail: bool = False
    stopped_at: str | None = None  # set when the log had a bad line and reading stopped there
    started: Any | None = None
    finished: Any | None = None
    steps: list[Any] = field(default_factory=list)
    tests: list[Any] = field(default_factory=list)
    truth: dict[int, Any] = field(default_factory=dict)
    notices: list[Any] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.started.run_id if self.started else self.path.name

    @property
    def shadow_git(self) -> Path | None:
        p = self.path / SHADOW_DIR
        return p if p.is_dir() else None

    @property
    def imported(self) -> bool:
        return bool(self.started and getattr(self.started, "imported", False))

    def add(self, e: Any) -> None:
        """Group one event (the order of the log is kept)."""
        self.events.append(e)
        if e.type == "run_started":
            self.started = e
        elif e.type == "run_finished":
            self.finished = e
        elif e.type == "step":
            self.steps.append(e)
        elif e.type == "tests":
            self.tests.append(e)
        elif e.type == "truth":
            self.truth[e.step] = e
        elif e.type == "notice":
            self.notices.append(e)

    def tests_after(self, step: int) -> Any | None:
        """The latest harness test result recorded at or before `step`."""
        found = None
        for t in self.tests:
            if t.step <= step:
                found = t
        return found

    def tests_at(self, step: int) -> Any | None:
        return next((t for t in reversed(self.tests) if t.step == step), None)

    def summary(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / RUN_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def read_scores(self) -> list[dict[str, Any]] | None:
        """scores.jsonl lines (derived data, see testbed/scoring), or None if not scored yet."""
        p = self.path / SCORES_FILE
        if not p.is_file():
            return None
        out = []
        for line in p.read_text().splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a torn tail of an interrupted scorer: the rest is recomputable
        return out


def load_run(ref: str | Path, strict: bool = False) -> RunData:
    path = resolve_run(ref)
    res = read_events(path / EVENTS_FILE, strict=strict)
    run = RunData(path=path, events=[], torn_tail=res.torn_tail, stopped_at=res.error)
    for e in res.events:
        run.add(e)
    return run
