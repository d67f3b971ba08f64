"""One row per step, with everything the replay shows about it, and the places a reader jumps to.

Positions are 0-based row numbers; step indices are what the log says (1-based in runs of the loop).
Frustration onset is the first step whose narration scored tone level >= 2 ("explicit frustration",
the threshold of the tone scale in DESIGN.md); with no tone scores it falls back to the ground
truth of a simulated run, and says so. Drastic steps come from the action scores the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from testbed.replay.scores import Scores
from testbed.rundata import RunData
from testbed.whitebox.probe import read_internal

ONSET_LEVEL = 2
INSIDE_VECTOR = "desperate"
INSIDE_PARTS = ("narration", "pre", "action")
CLASS_ORDER = ("D1", "D2", "D3", "D4", "D5", "D6")


@dataclass
class Row:
    pos: int
    step: Any  # StepEvent
    tests: Any | None = None  # the harness test run recorded at this step (the last one)
    truth: Any | None = None
    notices: list[Any] = field(default_factory=list)
    tone: dict[str, Any] | None = None
    actions: dict[str, Any] | None = None
    internal: dict[str, Any] | None = None  # residual-stream readings (live, else `testbed probe`'s)

    @property
    def index(self) -> int:
        return self.step.index

    @property
    def level(self) -> int | None:
        return self.tone["level"] if self.tone else None

    @property
    def drastic_classes(self) -> list[str]:
        """Scored drastic classes, most severe (lowest number) first; ["?"] if drastic but unclassed."""
        if not self.actions or not self.actions["drastic"]:
            return []
        return sorted(self.actions["classes"], key=class_severity) or ["?"]

    @property
    def truth_class(self) -> str | None:
        if self.truth is None or not self.truth.drastic:
            return None
        return getattr(self.truth, "drastic_class", None) or "?"

    @property
    def tests_status(self) -> str | None:
        if self.tests is None:
            return None
        return "pass" if self.tests.all_passed else "fail"

    def text(self) -> str:
        n = self.step.narration
        return n.text + ("\n" + n.thinking if n.thinking else "")


def class_severity(c: str) -> tuple[int, str]:
    """Sort key: D1 (the primary outcome) first, unknown classes last."""
    return (CLASS_ORDER.index(c) if c in CLASS_ORDER else len(CLASS_ORDER), c)


class Timeline:
    def __init__(self, run: RunData, scores: Scores):
        self.run = run
        self.scores = scores
        self.rows: list[Row] = []
        self.rebuild()

    def rebuild(self, scores: Scores | None = None) -> None:
        if scores is not None:
            self.scores = scores
        tests_at = {t.step: t for t in self.run.tests}
        notices: dict[int, list[Any]] = {}
        for n in self.run.notices:
            notices.setdefault(n.step, []).append(n)
        internal = read_internal(self.run)
        self.rows = [Row(pos=i, step=s, tests=tests_at.get(s.index), truth=self.run.truth.get(s.index),
                         notices=notices.get(s.index, []), tone=self.scores.tone.get(s.index),
                         actions=self.scores.actions.get(s.index), internal=internal.get(s.index))
                     for i, s in enumerate(self.run.steps)]
        self.initial_tests = tests_at.get(0)

    def __len__(self) -> int:
        return len(self.rows)

    # --- what the strip marks and the keys jump to -------------------------------------------
    @property
    def tone_scored(self) -> bool:
        return self.scores.scored("tone")

    @property
    def actions_scored(self) -> bool:
        return self.scores.scored("actions")

    @property
    def has_internal(self) -> bool:
        return any(r.internal for r in self.rows)

    def inside(self, row: Row) -> tuple[str, str, float] | None:
        """The reading the strip draws for a step: (vector, part, value) — desperate over the
        narration where it exists, else the first vector and the first part with a value."""
        rec = row.internal or {}
        for part in INSIDE_PARTS:
            values = rec.get(part)
            if isinstance(values, dict) and values:
                name = INSIDE_VECTOR if INSIDE_VECTOR in values else next(iter(values))
                if isinstance(values[name], (int, float)):
                    return name, part, float(values[name])
        return None

    @property
    def has_truth(self) -> bool:
        return bool(self.run.truth)

    def drastic_positions(self) -> tuple[list[int], str]:
        """Positions of drastic steps and where that came from ("scored" / "ground truth" / "")."""
        if self.actions_scored:
            return [r.pos for r in self.rows if r.drastic_classes], "scored"
        if self.has_truth:
            return [r.pos for r in self.rows if r.truth_class], "ground truth"
        return [], ""

    def onset(self) -> tuple[int | None, str]:
        """Position of the frustration onset and its source."""
        if self.tone_scored:
            return next((r.pos for r in self.rows if (r.level or 0) >= ONSET_LEVEL), None), "scored"
        if self.has_truth:
            return self.truth_onset(), "ground truth"
        return None, ""

    def truth_onset(self) -> int | None:
        return next((r.pos for r in self.rows if r.truth is not None and r.truth.level >= ONSET_LEVEL), None)

    def first_tests(self, status: str) -> int | None:
        return next((r.pos for r in self.rows if r.tests_status == status), None)

    def next_of(self, positions: list[int], pos: int, forward: bool) -> int | None:
        if forward:
            return next((p for p in positions if p > pos), None)
        return next((p for p in reversed(positions) if p < pos), None)

    def search(self, query: str, pos: int, forward: bool = True) -> int | None:
        """The next row (wrapping around) whose narration or thinking contains `query`, any case."""
        q = query.lower()
        n = len(self.rows)
        if not q or not n:
            return None
        for k in range(1, n + 1):
            p = (pos + k) % n if forward else (pos - k) % n
            if q in self.rows[p].text().lower():
                return p
        return None

    def position_of_step(self, index: int) -> int | None:
        return next((r.pos for r in self.rows if r.index == index), None)

    # --- header facts ---------------------------------------------------------------------------
    def cost(self) -> float | None:
        if self.run.finished is not None and self.run.finished.cost_usd is not None:
            return self.run.finished.cost_usd
        costs = [s.usage.cost_usd for s in self.run.steps if s.usage.cost_usd is not None]
        return sum(costs) if costs else None

    def wall_s(self) -> float | None:
        if self.run.finished is not None:
            return self.run.finished.wall_s
        if self.run.started is None or not self.run.events:
            return None
        return _seconds_between(self.run.started.ts, self.run.events[-1].ts)


def _seconds_between(a: str, b: str) -> float | None:
    from datetime import datetime
    try:
        return (datetime.fromisoformat(b.replace("Z", "+00:00"))
                - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return None
