"""Competing risks: how runs end, step by step — the cumulative incidence of the first D1, of giving
up, of solving, and of running out of budget (Aalen–Johansen in discrete time).

The hazard model treats giving up as leaving the risk set and the budget end as censoring; these
curves show the whole picture: P(the run has ended by step t, and ended that way). At each step t
the cause-specific hazard of each ending is its events at t over the runs still going at t; the
overall survival S(t) = Π (1 − Σ hazards); CIF_k(t) = Σ_{s ≤ t} S(s − 1)·h_k(s). Runs that end
otherwise (an error, an interruption) are censored where they stop. "Ending" by D1 means the first
D1 (the run may go on after it; it has left the D1 risk set).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analysis.cohort import Cohort
from analysis.outcomes import EventTimes
from analysis.stats import not_estimable, rnd

CAUSES = ("d1", "give_up", "solved", "budget")


def cumulative_incidence(c: Cohort, et: EventTimes) -> dict[str, Any]:
    if c.n == 0:
        return not_estimable("no runs", steps=[], curves={})
    n_cols = c.width
    end = np.full(c.n, -1)
    cause = np.full(c.n, "", dtype=object)
    for i in range(c.n):
        last = int(et.last[i])
        candidates = []
        if et.has("d1")[i]:
            candidates.append((int(et.d1[i]), "d1"))
        if et.give_up[i] >= 0:
            candidates.append((int(et.give_up[i]), "give_up"))
        if c.outcome[i] == "solved" and last >= 0:
            candidates.append((last, "solved"))
        if c.outcome[i] == "budget_exhausted" and last >= 0:
            candidates.append((last, "budget"))
        if candidates:
            end[i], cause[i] = min(candidates)
        else:
            end[i], cause[i] = last, "censored"
    at_risk = np.array([(end >= t).sum() for t in range(n_cols)], float)
    events = {k: np.array([np.sum((end == t) & (cause == k)) for t in range(n_cols)], float) for k in CAUSES}
    with np.errstate(invalid="ignore", divide="ignore"):
        hazards = {k: np.where(at_risk > 0, v / at_risk, 0.0) for k, v in events.items()}
    total = sum(hazards.values())
    surv = np.cumprod(1 - total)
    before = np.concatenate([[1.0], surv[:-1]])
    curves = {k: np.cumsum(before * h) for k, h in hazards.items()}
    return {"estimable": True, "steps": list(range(1, n_cols + 1)),
            "curves": {k: [rnd(float(v), 4) for v in cur] for k, cur in curves.items()},
            "at_risk": [int(v) for v in at_risk],
            "final": {k: rnd(float(cur[-1]), 4) for k, cur in curves.items()},
            "counts": {k: int(np.sum(cause == k)) for k in (*CAUSES, "censored")},
            "method": "Aalen–Johansen in discrete steps; errors and interruptions censored"}


def cif_png(r: dict[str, Any]) -> bytes | None:
    ci = r.get("competing_risks") or {}
    if not ci.get("estimable"):
        return None
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.4))
    labels = {"d1": "first D1", "give_up": "gave up", "solved": "solved", "budget": "budget ended"}
    colors = {"d1": "#c33", "give_up": "#36c", "solved": "#3a3", "budget": "#999"}
    for k, vals in ci["curves"].items():
        ax.step(ci["steps"], vals, where="post", label=f"{labels[k]} ({ci['final'][k]:.0%})", color=colors[k])
    ax.set_xlabel("step")
    ax.set_ylabel("cumulative incidence")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("How runs end (competing risks)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
