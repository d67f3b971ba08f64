"""A cohort of runs as padded step arrays: what every statistic in this package works on.

Row i is one run; column j is its (j+1)-th step event (steps are ordered by their index, so a log
that starts at 0 or skips an index still lines up). Cells past a run's last step are padding: NaN
for floats, False/0 otherwise, and `n_steps` says where each run ends.

Timing convention (the whole package relies on it): a step's narration is written *before* that
step's tool calls run, so the tone at column j is pre-action for the actions at column j. The
harness's test runs recorded at a step happen after its actions, so `fails_before[i, j]` counts only
the failed test runs from earlier steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

CLASS_BITS = {"D1": 1, "D2": 2, "D3": 4, "D4": 8, "D5": 16, "D6": 32}
PRIMARY = CLASS_BITS["D1"]
SECONDARY = CLASS_BITS["D2"] | CLASS_BITS["D3"]
GIVE_UP = CLASS_BITS["D5"]


def class_mask(classes: Sequence[str] | None) -> int:
    bits = 0
    for c in classes or ():
        bits |= CLASS_BITS.get(str(c).upper(), 0)
    return bits


@dataclass
class RunRecord:
    """One run as read from its directory (or generated): per-step lists, all the same length."""

    run_id: str
    model: str
    scenario: str
    outcome: str | None
    step_index: list[int]
    level: list[float]           # tone level 0-3 of the step's own (pre-action) narration; NaN: unscored
    p_frustrated: list[float]
    remorse: list[bool]
    give_up_flag: list[bool]
    classes: list[int]           # CLASS_BITS mask of the drastic classes detected at the step
    fails_before: list[int]      # failed harness test runs at earlier steps
    path: str | None = None
    truth_level: list[float] | None = None   # simulated ground truth, when the log has it
    truth_classes: list[int] | None = None


@dataclass
class Cohort:
    run_ids: list[str]
    paths: list[str | None]
    model_names: list[str]
    scenario_names: list[str]
    model: np.ndarray            # (n,) index into model_names
    scenario: np.ndarray         # (n,) index into scenario_names
    outcome: list[str | None]
    n_steps: np.ndarray          # (n,)
    step_index: np.ndarray       # (n, T) the logged step index of each column (-1: padding)
    level: np.ndarray            # (n, T) float, NaN = padding or unscored step
    p_frustrated: np.ndarray     # (n, T) float
    remorse: np.ndarray          # (n, T) bool
    give_up_flag: np.ndarray     # (n, T) bool
    classes: np.ndarray          # (n, T) uint8 bit mask
    fails_before: np.ndarray     # (n, T) int
    truth_level: np.ndarray | None = None
    truth_classes: np.ndarray | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.run_ids)

    @property
    def width(self) -> int:
        return self.level.shape[1]

    @property
    def signal(self) -> np.ndarray:
        """(n, T) the tone level as a pre-act signal: a step flagged as remorse (an apology for
        something already done) counts as level 0, whatever its level; NaN stays NaN."""
        return np.where(self.remorse & ~np.isnan(self.level), 0.0, self.level)

    @property
    def signal_p(self) -> np.ndarray:
        return np.where(self.remorse & ~np.isnan(self.p_frustrated), 0.0, self.p_frustrated)

    @property
    def valid(self) -> np.ndarray:
        """(n, T) True where a column is a real step of that run."""
        return np.arange(self.width)[None, :] < self.n_steps[:, None]

    @property
    def stratum(self) -> np.ndarray:
        """(n,) one integer per model × scenario combination."""
        return self.model * max(1, len(self.scenario_names)) + self.scenario

    def stratum_label(self, code: int) -> tuple[str, str]:
        k = max(1, len(self.scenario_names))
        return self.model_names[code // k], self.scenario_names[code % k]

    def subset(self, rows: np.ndarray) -> "Cohort":
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return Cohort(
            run_ids=[self.run_ids[i] for i in rows], paths=[self.paths[i] for i in rows],
            model_names=self.model_names, scenario_names=self.scenario_names,
            model=self.model[rows], scenario=self.scenario[rows],
            outcome=[self.outcome[i] for i in rows], n_steps=self.n_steps[rows],
            step_index=self.step_index[rows], level=self.level[rows],
            p_frustrated=self.p_frustrated[rows], remorse=self.remorse[rows],
            give_up_flag=self.give_up_flag[rows], classes=self.classes[rows],
            fails_before=self.fails_before[rows], truth_level=pick(self.truth_level),
            truth_classes=pick(self.truth_classes), notes=dict(self.notes))

    @classmethod
    def from_records(cls, records: Sequence[RunRecord], notes: dict[str, Any] | None = None) -> "Cohort":
        n = len(records)
        width = max((len(r.step_index) for r in records), default=0)
        width = max(width, 1)
        model_names = sorted({r.model for r in records})
        scenario_names = sorted({r.scenario for r in records})
        m_of = {m: k for k, m in enumerate(model_names)}
        s_of = {s: k for k, s in enumerate(scenario_names)}
        level = np.full((n, width), np.nan)
        pfr = np.full((n, width), np.nan)
        remorse = np.zeros((n, width), bool)
        give_up = np.zeros((n, width), bool)
        classes = np.zeros((n, width), np.uint8)
        fails = np.zeros((n, width), np.int32)
        index = np.full((n, width), -1, np.int64)
        has_truth = n > 0 and all(r.truth_level is not None for r in records)
        t_level = np.full((n, width), np.nan) if has_truth else None
        t_classes = np.zeros((n, width), np.uint8) if has_truth else None
        n_steps = np.zeros(n, np.int64)
        for i, r in enumerate(records):
            k = len(r.step_index)
            n_steps[i] = k
            if not k:
                continue
            index[i, :k] = r.step_index
            level[i, :k] = r.level
            pfr[i, :k] = r.p_frustrated
            remorse[i, :k] = r.remorse
            give_up[i, :k] = r.give_up_flag
            classes[i, :k] = r.classes
            fails[i, :k] = r.fails_before
            if has_truth:
                t_level[i, :k] = r.truth_level
                t_classes[i, :k] = r.truth_classes
        return cls(
            run_ids=[r.run_id for r in records], paths=[r.path for r in records],
            model_names=model_names, scenario_names=scenario_names,
            model=np.array([m_of[r.model] for r in records], np.int64),
            scenario=np.array([s_of[r.scenario] for r in records], np.int64),
            outcome=[r.outcome for r in records], n_steps=n_steps, step_index=index, level=level,
            p_frustrated=pfr, remorse=remorse, give_up_flag=give_up, classes=classes,
            fails_before=fails, truth_level=t_level, truth_classes=t_classes, notes=dict(notes or {}))


def first_true(mask: np.ndarray) -> np.ndarray:
    """(n,) column of the first True in each row, or -1."""
    if mask.shape[1] == 0:
        return np.full(mask.shape[0], -1)
    hit = mask.any(axis=1)
    return np.where(hit, mask.argmax(axis=1), -1)
