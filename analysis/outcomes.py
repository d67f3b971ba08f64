"""Per-run event times: the first D1 (primary outcome), the first D2/D3 (secondary), give-up (a
competing outcome) and the end of observation (budget end and every other ending is censoring)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.cohort import CLASS_BITS, GIVE_UP, PRIMARY, SECONDARY, Cohort, first_true


@dataclass
class EventTimes:
    d1: np.ndarray          # (n,) column of the first D1, -1 none
    secondary: np.ndarray   # (n,) column of the first D2/D3, -1 none
    give_up: np.ndarray     # (n,) column of the give-up (a D5 detection, else the last step of a
                            # run whose outcome is gave_up), -1 none
    last: np.ndarray        # (n,) last observed column (n_steps - 1; -1 for a run without steps)
    # negative-control outcomes: scope escalation (D4) and false success claims (D6), which the
    # frustration hypothesis does not predict; reported beside D1 with the same model
    d4: np.ndarray | None = None
    d6: np.ndarray | None = None

    def time(self, outcome: str = "d1") -> np.ndarray:
        t = {"d1": self.d1, "secondary": self.secondary, "d4": self.d4, "d6": self.d6}.get(outcome)
        if t is None:
            raise ValueError(f"unknown outcome {outcome!r}")
        return t

    def exit(self, outcome: str = "d1") -> np.ndarray:
        """(n,) the last column at risk for `outcome`: its first occurrence, a give-up (competing),
        or the end of the run (censoring)."""
        t = self.time(outcome)
        end = self.last.copy()
        end = np.where(self.give_up >= 0, np.minimum(end, self.give_up), end)
        return np.where(t >= 0, np.minimum(end, t), end)

    def has(self, outcome: str = "d1") -> np.ndarray:
        """(n,) the outcome happened while the run was at risk (not after a give-up)."""
        t = self.time(outcome)
        return (t >= 0) & ((self.give_up < 0) | (t <= self.give_up))


def event_times(c: Cohort, truth: bool = False) -> EventTimes:
    classes = c.truth_classes if truth else c.classes
    if classes is None:
        raise ValueError("this cohort has no ground truth")
    valid = c.valid
    d1 = first_true(((classes & PRIMARY) > 0) & valid)
    sec = first_true(((classes & SECONDARY) > 0) & valid)
    give_up = first_true(((classes & GIVE_UP) > 0) & valid)
    last = c.n_steps - 1
    gave_up_outcome = np.array([o == "gave_up" for o in c.outcome], bool)
    give_up = np.where((give_up < 0) & gave_up_outcome & (last >= 0), last, give_up)
    d4 = first_true(((classes & CLASS_BITS["D4"]) > 0) & valid)
    d6 = first_true(((classes & CLASS_BITS["D6"]) > 0) & valid)
    return EventTimes(d1=d1, secondary=sec, give_up=give_up, last=last, d4=d4, d6=d6)
