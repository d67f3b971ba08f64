"""The peri-event tone curve: mean tone level from 10 steps before to 5 steps after the first D1,
against matched dummy events.

Each case's event step t is given as a dummy event to the runs it may be compared with — the
precedence test's donors: runs of the same model × scenario still at risk at t (no D1 before it,
whatever they did later: choosing controls by their future would select on the outcome) with the
same number of failed test runs before t (else ±1) — each with weight 1/(their number): the exact
average over random matching. Offset 0 is the act's own turn (its narration was written before the
act); offsets > 0 are after it and include remorse.

The pre-window test (offsets −3…−1) is a permutation test within matched sets: each case's set is
the case and its donors; the statistic is the mean over cases of (the case's window tone − its
set's average), and its null distribution comes from draws in which every case is replaced by one
random member of its set. Controls are shared between cases, and a paired t-test that treated their
average as known was too liberal (8.8 % at α = 0.05 at the plain null); the draws carry that
variance, and including the case in its set keeps small sets honest.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from analysis.cohort import Cohort
from analysis.outcomes import EventTimes
from analysis.stats import not_estimable, rnd

BEFORE, AFTER = 10, 5
PRE_WINDOW = (-3, -1)


def _values(c: Cohort, rows: np.ndarray, times: np.ndarray, offsets: np.ndarray,
            signal: bool = False) -> np.ndarray:
    """Tone at event time + offsets: the level as shown (the curve), or as a pre-act signal
    (remorse steps count 0; the pre-window test)."""
    cols = times[:, None] + offsets[None, :]
    ok = (cols >= 0) & (cols < c.n_steps[rows][:, None])
    vals = np.full(cols.shape, np.nan)
    r = np.broadcast_to(rows[:, None], cols.shape)
    vals[ok] = (c.signal if signal else c.level)[r[ok], cols[ok]]
    return vals


def _mean_ci(vals: np.ndarray, weights: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, ...]:
    """Weighted mean per column with a cluster-robust standard error (clusters: case runs)."""
    ok = ~np.isnan(vals)
    w = np.where(ok, weights[:, None], 0.0)
    v = np.nan_to_num(vals)
    tot = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * v).sum(axis=0) / tot
        _, inv = np.unique(clusters, return_inverse=True)
        g = inv.max() + 1 if inv.size else 0
        resid = w * (v - mean[None, :])
        per = np.zeros((g, vals.shape[1]))
        np.add.at(per, inv, resid)
        se = np.sqrt((per ** 2).sum(axis=0)) / tot
        n_clusters = np.array([np.unique(clusters[ok[:, k]]).size for k in range(vals.shape[1])])
    return mean, se, n_clusters


def peri_event(c: Cohort, et: EventTimes, before: int = BEFORE, after: int = AFTER, draws: int = 2000,
               seed: int = 0, match_failures: bool = True) -> dict[str, Any]:
    from analysis.precedence import donors
    offsets = np.arange(-before, after + 1)
    keys = {"offsets": offsets.tolist(), "d1": None, "dummy": None}
    cases = np.flatnonzero(et.has("d1"))
    if cases.size == 0:
        return not_estimable("no runs with a D1", **keys)
    case_vals = _values(c, cases, et.d1[cases], offsets)
    mean_c, se_c, n_c = _mean_ci(case_vals, np.ones(cases.size), cases)
    pools = donors(c, et, cases, match_failures)
    d_rows, d_times, d_w, d_cluster = [], [], [], []
    for k, i in enumerate(cases):
        pool = pools[k]
        if pool.size:
            d_rows.append(pool)
            d_times.append(np.full(pool.size, et.d1[i]))
            d_w.append(np.full(pool.size, 1.0 / pool.size))
            d_cluster.append(np.full(pool.size, i))
    res: dict[str, Any] = {"estimable": True, "offsets": offsets.tolist(), "measure": "mean tone level (0-3)",
                           "d1": {"mean": [rnd(v, 3) for v in mean_c],
                                  "ci_low": [rnd(v, 3) for v in mean_c - 1.96 * se_c],
                                  "ci_high": [rnd(v, 3) for v in mean_c + 1.96 * se_c],
                                  "n": n_c.tolist()},
                           "n_d1_runs": int(cases.size)}
    if not d_rows:
        res["dummy"] = None
        res["dummy_reason"] = "no run at risk at the D1 runs' event steps matched them"
        res["pre_window"] = not_estimable(res["dummy_reason"], difference=None, ci=None, p=None)
        return res
    rows, times = np.concatenate(d_rows), np.concatenate(d_times)
    w, cl = np.concatenate(d_w), np.concatenate(d_cluster)
    dummy_vals = _values(c, rows, times, offsets)
    mean_d, se_d, _ = _mean_ci(dummy_vals, w, cl)
    res["dummy"] = {"mean": [rnd(v, 3) for v in mean_d], "ci_low": [rnd(v, 3) for v in mean_d - 1.96 * se_d],
                    "ci_high": [rnd(v, 3) for v in mean_d + 1.96 * se_d],
                    "n_runs": int(np.unique(rows).size), "n_matched_cases": int(len(d_rows)),
                    "matched_on": "model × scenario, at risk at the event step"
                                  + (", failed test runs before it (exact, else ±1)" if match_failures else "")}
    res["pre_window"] = _pre_window(c, et, cases, pools, draws, seed)
    return res


def _pre_window(c: Cohort, et: EventTimes, cases: np.ndarray, pools: list[np.ndarray], draws: int,
                seed: int) -> dict[str, Any]:
    """The swap permutation test of the pre-event window (see the module docstring)."""
    lo, hi = PRE_WINDOW
    offs = np.arange(lo, hi + 1)
    keys = {"difference": None, "ci": None, "p": None, "n_runs": 0,
            "window": f"offsets {lo}…{hi} (the steps before the act)"}

    def window_mean(rows: np.ndarray, t: int) -> np.ndarray:
        vals = _values(c, rows, np.full(rows.size, t), offs, signal=True)
        with warnings.catch_warnings():  # no scored step in the window: NaN, left out
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(vals, axis=1)

    case_m, donor_m = [], []
    for i, pool in zip(cases, pools):
        t = int(et.d1[i])
        cm = window_mean(np.array([i]), t)[0]
        dm = window_mean(pool, t) if pool.size else np.array([])
        dm = dm[~np.isnan(dm)]
        if np.isnan(cm) or dm.size == 0:
            continue
        case_m.append(cm)
        donor_m.append(np.concatenate([[cm], dm]))  # the matched set: the case and its donors
    n = len(case_m)
    keys["n_runs"] = n
    if n < 3:
        return not_estimable(f"only {n} D1 runs with tone in the pre-event window and matched donors", **keys)
    rng = np.random.default_rng(seed + 17)
    case_arr = np.array(case_m)
    dbar = np.array([d.mean() for d in donor_m])
    obs = float(np.mean(case_arr - dbar))
    null = np.zeros(draws)
    for k, d in enumerate(donor_m):
        null += d[rng.integers(0, d.size, draws)] - dbar[k]
    null /= n
    p = float((1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / (draws + 1))
    idx = rng.integers(0, n, (min(draws, 2000), n))
    boot = (case_arr - dbar)[idx].mean(axis=1)
    return {"estimable": True, **keys, "difference": rnd(obs, 3),
            "ci": [rnd(float(np.percentile(boot, 2.5)), 3), rnd(float(np.percentile(boot, 97.5)), 3)],
            "null_interval": [rnd(float(np.percentile(null, 2.5)), 3), rnd(float(np.percentile(null, 97.5)), 3)],
            "p": p, "n_draws": draws,
            "test": "permutation test within matched sets (the case and its donors)"}
