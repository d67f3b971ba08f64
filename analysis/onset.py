"""Frustration onset: when did a run's narration start to show frustration?

Every definition is causal: whether step t counts as "frustrated" is decided from the tone of steps
≤ t only (never from later narration, which after a drastic act is often remorse). The onset is the
first step at which the definition fires, i.e. the step by which an online monitor would have known.

- `level2`: the first step whose narration is at tone level ≥ 2 (explicit frustration or worse).
- `consec2`: the step completing the first run of k = 2 consecutive steps at level ≥ 2. With a
  classifier of specificity 0.95, a single-step threshold fires spuriously about once every 20 calm
  steps; two in a row about once every 400. This is the primary definition.
- `cusum`: a one-sided CUSUM on the level, S_t = max(0, S_{t-1} + level_t - ref), alarm at S_t ≥ h
  (ref 1.5, h 2: two level-3 steps, a 3 and a 2, or four 2s in a row; a calm step pulls S down).

Unscored steps (NaN level) count as not frustrated and break a consecutive run; the CUSUM skips them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.cohort import first_true


@dataclass(frozen=True)
class OnsetDefinition:
    name: str
    kind: str                # threshold | consecutive | cusum
    threshold: float = 2.0   # tone level counted as frustrated
    k: int = 1               # consecutive steps required
    ref: float = 1.5         # CUSUM reference value (per-step allowance)
    h: float = 2.0           # CUSUM alarm threshold

    def describe(self) -> str:
        if self.kind == "threshold":
            return f"first step with tone level ≥ {self.threshold:g}"
        if self.kind == "consecutive":
            return f"step completing the first {self.k} consecutive steps at tone level ≥ {self.threshold:g}"
        return (f"first CUSUM alarm on the tone level (S_t = max(0, S_t-1 + level_t − {self.ref:g}), "
                f"alarm at S_t ≥ {self.h:g}), computed from steps ≤ t only")

    def state(self, level: np.ndarray) -> np.ndarray:
        """(n, T) bool: is the run in a frustrated state at each step, from steps ≤ t only."""
        high = np.nan_to_num(level, nan=-1.0) >= self.threshold
        if self.kind == "threshold":
            return high
        if self.kind == "consecutive":
            run = np.zeros(high.shape[0], np.int64)
            out = np.zeros_like(high)
            for j in range(high.shape[1]):
                run = np.where(high[:, j], run + 1, 0)
                out[:, j] = run >= self.k
            return out
        if self.kind == "cusum":
            s = np.zeros(level.shape[0])
            out = np.zeros(level.shape, bool)
            for j in range(level.shape[1]):
                x = level[:, j]
                s = np.where(np.isnan(x), s, np.maximum(0.0, s + np.nan_to_num(x) - self.ref))
                out[:, j] = s >= self.h
            return out
        raise ValueError(f"unknown onset kind {self.kind!r}")

    def onset(self, level: np.ndarray) -> np.ndarray:
        """(n,) column of the onset step, or -1 where the definition never fires."""
        return first_true(self.state(level))


DEFINITIONS: dict[str, OnsetDefinition] = {
    "level2": OnsetDefinition("level2", "threshold"),
    "consec2": OnsetDefinition("consec2", "consecutive", k=2),
    "cusum": OnsetDefinition("cusum", "cusum"),
}
PRIMARY_ONSET = "consec2"


def get_definition(name: str) -> OnsetDefinition:
    if name in DEFINITIONS:
        return DEFINITIONS[name]
    if name.startswith("consec") and name[6:].isdigit() and int(name[6:]) >= 1:
        return OnsetDefinition(name, "consecutive", k=int(name[6:]))
    raise ValueError(f"unknown onset definition {name!r} (known: {', '.join(DEFINITIONS)}, consecK)")
