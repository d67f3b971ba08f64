"""Sensitivity analysis: case-time-control (Suissa 1995; Greenland 1996).

Case-crossover part: in each run with a first D1 at step t, the exposure in the *hazard window*
(the step before the act, t−1, the same lag as the hazard model) is compared with the same run's
*control windows* (the K steps before that, t−1−K … t−2) by conditional logistic regression. Each run
is its own control, so whatever is fixed for a whole run (a model's or a run's temperament, the
scenario) cancels.

Time-control part: frustration also drifts with time, so the hazard window is more often frustrated
than earlier windows even with no link at all. The same case-crossover odds ratio is computed in
control runs at pseudo-event steps: each case's step t is given to the runs it may be compared with
at t — the precedence test's donors: the same model × scenario, still at risk at t (no D1 before it;
a later D1 does not exclude a run: choosing controls by their future selects on the outcome), the
same number of failed test runs before t (else ±1) — each with weight 1/their number (the exact
average over random matching). The case-time-control odds ratio is the ratio of the two; on the
log scale a difference, with a run-clustered (sandwich) variance for each part. The exposure is a
parameter (an onset definition's state at the window step; `level2` by default).

For one binary exposure and one case window per matched set, the conditional likelihood has a
closed form: each set contributes β·x_case − log(n1·e^β + n0), with n1/n0 the exposed/unexposed
windows of the set (case window included), so the fit is a one-parameter Newton iteration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from analysis.cohort import Cohort
from analysis.onset import DEFINITIONS
from analysis.outcomes import EventTimes
from analysis.stats import not_estimable, rnd

CONTROL_WINDOWS = 10
MIN_INFORMATIVE = 10


@dataclass
class _Sets:
    x_case: np.ndarray
    n1: np.ndarray
    n0: np.ndarray
    weight: np.ndarray
    cluster: np.ndarray

    def informative(self) -> np.ndarray:
        return (self.n1 > 0) & (self.n0 > 0)


def _window_sets(exposed: np.ndarray, scored: np.ndarray, runs: np.ndarray, times: np.ndarray,
                 weights: np.ndarray, K: int) -> _Sets:
    """Matched sets for (run, event column) pairs: case window t−1, controls t−1−K … t−2."""
    cum_e = np.concatenate([np.zeros((exposed.shape[0], 1)), np.cumsum(exposed * scored, axis=1)], axis=1)
    cum_s = np.concatenate([np.zeros((exposed.shape[0], 1)), np.cumsum(scored, axis=1)], axis=1)
    case_col = times - 1
    lo = np.maximum(0, case_col - K)
    ctrl_e = cum_e[runs, case_col] - cum_e[runs, lo]
    ctrl_n = cum_s[runs, case_col] - cum_s[runs, lo]
    x_case = exposed[runs, case_col] & scored[runs, case_col]
    ok = scored[runs, case_col] & (ctrl_n > 0)
    n1 = ctrl_e + x_case
    n0 = ctrl_n + 1 - n1
    return _Sets(x_case[ok].astype(float), n1[ok], n0[ok], weights[ok], runs[ok])


def _fit(sets: _Sets) -> tuple[float, float, int] | None:
    """Weighted conditional-logit MLE of β with a run-clustered sandwich variance."""
    inf = sets.informative()
    if inf.sum() == 0:
        return None
    x, n1, n0, w, cl = (a[inf] for a in (sets.x_case, sets.n1, sets.n0, sets.weight, sets.cluster))
    beta = 0.0
    for _ in range(100):
        e = np.exp(beta)
        p = n1 * e / (n1 * e + n0)
        score = np.sum(w * (x - p))
        info = np.sum(w * p * (1 - p))
        if info <= 1e-12:
            return None
        step = score / info
        beta += step
        if abs(beta) > 20:
            return None
        if abs(step) < 1e-10:
            break
    else:
        return None
    e = np.exp(beta)
    p = n1 * e / (n1 * e + n0)
    u = w * (x - p)
    info = np.sum(w * p * (1 - p))
    _, inv = np.unique(cl, return_inverse=True)
    u_cl = np.bincount(inv, weights=u)
    g = u_cl.size
    meat = np.sum(u_cl ** 2) * (g / (g - 1) if g > 1 else 1.0)
    return beta, math.sqrt(meat) / info, int(inf.sum())


def case_time_control(c: Cohort, et: EventTimes, K: int = CONTROL_WINDOWS,
                      min_informative: int = MIN_INFORMATIVE, exposure: str = "level2") -> dict[str, Any]:
    from analysis.precedence import donors
    if exposure not in DEFINITIONS:
        raise ValueError(f"unknown exposure {exposure!r} (one of {', '.join(DEFINITIONS)})")
    base = {"odds_ratio": None, "ci_low": None, "ci_high": None, "p": None,
            "exposure": f"{DEFINITIONS[exposure].describe()}, at the step before the (pseudo-)event",
            "exposure_definition": exposure,
            "windows": f"hazard window t−1 vs control windows t−{K + 1} … t−2 in the same run",
            "controls": "runs at risk at t (no D1 before it), same model × scenario and failures before t",
            "n_case_runs": 0, "n_control_runs": 0}
    exposed = DEFINITIONS[exposure].state(c.signal)
    scored = c.valid & ~np.isnan(c.level)
    has = et.has("d1")
    cases = np.flatnonzero(has & (et.d1 >= 2))
    base["n_cases_too_early"] = int(np.sum(has & (et.d1 < 2)))
    if cases.size == 0:
        return not_estimable("no runs with a first D1 at step 3 or later (needs earlier steps to compare)",
                             **base)
    case_sets = _window_sets(exposed, scored, cases, et.d1[cases], np.ones(cases.size), K)
    base["n_case_runs"] = int(np.unique(case_sets.cluster).size)
    # pseudo-events in the cases' risk sets (without looking ahead), failure-matched
    ctrl_runs, ctrl_times, ctrl_w = [], [], []
    for i, pool in zip(cases, donors(c, et, cases)):
        if pool.size:
            ctrl_runs.append(pool)
            ctrl_times.append(np.full(pool.size, et.d1[i]))
            ctrl_w.append(np.full(pool.size, 1.0 / pool.size))
    if not ctrl_runs:
        return not_estimable("no runs at risk at the cases' event steps matched them (nothing to "
                             "estimate the time trend from)", **base)
    ctrl_sets = _window_sets(exposed, scored, np.concatenate(ctrl_runs), np.concatenate(ctrl_times),
                             np.concatenate(ctrl_w), K)
    base["n_control_runs"] = int(np.unique(ctrl_sets.cluster).size)
    n_inf_case = int(case_sets.informative().sum())
    base["n_informative_case_runs"] = n_inf_case
    if n_inf_case < min_informative:
        return not_estimable(f"only {n_inf_case} case runs whose windows differ in tone (at least "
                             f"{min_informative} needed)", **base)
    fc, ft = _fit(case_sets), _fit(ctrl_sets)
    if fc is None:
        return not_estimable("the case-crossover odds ratio is not finite (every informative case "
                             "run agrees)", **base)
    if ft is None:
        return not_estimable("the control-run odds ratio is not finite", **base)
    (bc, sc, _), (bt, st, n_inf_ctrl) = fc, ft
    b, se = bc - bt, math.sqrt(sc ** 2 + st ** 2)
    z = 1.959964
    return {"estimable": True, **base, "n_informative_control_runs": n_inf_ctrl,
            "beta": rnd(b), "se": rnd(se),
            "odds_ratio": rnd(math.exp(b)), "ci_low": rnd(math.exp(b - z * se)),
            "ci_high": rnd(math.exp(b + z * se)), "p": float(2 * norm.sf(abs(b / se))),
            "case_crossover": {"odds_ratio": rnd(math.exp(bc)), "ci_low": rnd(math.exp(bc - z * sc)),
                               "ci_high": rnd(math.exp(bc + z * sc))},
            "time_control": {"odds_ratio": rnd(math.exp(bt)), "ci_low": rnd(math.exp(bt - z * st)),
                             "ci_high": rnd(math.exp(bt + z * st))}}
