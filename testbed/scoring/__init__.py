"""Scorers turn a run's events into `scores.jsonl` (derived; `testbed score` recomputes it).

`scores.jsonl` *contract* (one JSON object a line):
    {"v": 1, "type": "meta", "run_id", "ts", "scorers": {NAME: describe(), ...}}
    {"v": 1, "type": "step", "run_id", "step": INDEX, NAME: value, ...}   one line per step event

Each scorer owns one key of the step lines (`tone`, `actions`, ...). A scorer implements
`StepScorer`: `score_run(run) -> {step_index: value}`. The file is written to a temp file and
renamed, so a reader never sees half of it, and events.jsonl is never touched.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Protocol

from testbed.log import SCORES_FILE, now_iso
from testbed.rundata import RunData, load_run

SCORES_VERSION = 1

# name -> "module:factory"; each factory returns a StepScorer. Optional tiers degrade inside the
# scorer (a missing model is reported in describe(), never a crash).
SCORERS: dict[str, str] = {
    "tone": "testbed.scoring.tone.scorer:ToneScorer",
    "actions": "testbed.scoring.actions:make_scorer",
}


class StepScorer(Protocol):
    name: str

    def score_run(self, run: RunData) -> dict[int, Any]: ...

    def describe(self) -> dict[str, Any]: ...


def get_scorers(names: list[str] | None = None, **options: Any) -> list[StepScorer]:
    chosen = names or list(SCORERS)
    unknown = [n for n in chosen if n not in SCORERS]
    if unknown:
        raise ValueError(f"unknown scorer(s) {unknown}; available: {', '.join(SCORERS) or 'none'}")
    out = []
    for name in chosen:
        module, factory = SCORERS[name].split(":")
        out.append(getattr(importlib.import_module(module), factory)(**options.get(name, {})))
    return out


def score_run_dir(run_dir: Path | str, scorers: list[StepScorer]) -> Path:
    """(Re)compute scores.jsonl for one run directory and return its path."""
    run = load_run(run_dir)
    per_scorer = {s.name: s.score_run(run) for s in scorers}
    lines = [{"v": SCORES_VERSION, "type": "meta", "run_id": run.run_id, "ts": now_iso(),
              "scorers": {s.name: s.describe() for s in scorers},
              "log": {"torn_tail": run.torn_tail, "stopped_at": run.stopped_at}}]
    for step in run.steps:
        line: dict[str, Any] = {"v": SCORES_VERSION, "type": "step", "run_id": run.run_id,
                                "step": step.index}
        for name, values in per_scorer.items():
            line[name] = values.get(step.index)
        lines.append(line)
    target = Path(run.path) / SCORES_FILE
    _write_jsonl_atomic(target, lines)
    return target


def _write_jsonl_atomic(path: Path, lines: list[dict[str, Any]]) -> None:
    import os
    import tempfile
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(json.dumps(line, default=str) + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
