"""The peri-event tone curve: mean tone level from 10 steps before to 5 steps after the first D1,
against step-matched dummy events in runs without D1.

Each case's event step is given as a dummy event to every run of the same model × scenario that
never had a D1 and was still running at that step, each with weight 1/(their number): the exact
average over random matching. Offset 0 is the act's own turn (its narration was written before the
act); offsets > 0 are after it and include remorse.
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


def _values(c: Cohort, rows: np.ndarray, times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    cols = times[:, None] + offsets[None, :]
    ok = (cols >= 0) & (cols < c.n_steps[rows][:, None])
    vals = np.full(cols.shape, np.nan)
    r = np.broadcast_to(rows[:, None], cols.shape)
    vals[ok] = c.level[r[ok], cols[ok]]
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


def peri_event(c: Cohort, et: EventTimes, before: int = BEFORE, after: int = AFTER) -> dict[str, Any]:
    offsets = np.arange(-before, after + 1)
    keys = {"offsets": offsets.tolist(), "d1": None, "dummy": None}
    cases = np.flatnonzero(et.has("d1"))
    if cases.size == 0:
        return not_estimable("no runs with a D1", **keys)
    strata = c.stratum
    controls = np.flatnonzero(et.d1 < 0)
    case_vals = _values(c, cases, et.d1[cases], offsets)
    mean_c, se_c, n_c = _mean_ci(case_vals, np.ones(cases.size), cases)
    d_rows, d_times, d_w, d_cluster = [], [], [], []
    for k, i in enumerate(cases):
        pool = controls[(strata[controls] == strata[i]) & (et.last[controls] >= et.d1[i])]
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
        res["dummy_reason"] = "no runs without D1 lasted as long as the D1 runs' event steps"
        res["pre_window"] = not_estimable(res["dummy_reason"], difference=None, ci=None, p=None)
        return res
    rows, times = np.concatenate(d_rows), np.concatenate(d_times)
    w, cl = np.concatenate(d_w), np.concatenate(d_cluster)
    dummy_vals = _values(c, rows, times, offsets)
    mean_d, se_d, _ = _mean_ci(dummy_vals, w, cl)
    res["dummy"] = {"mean": [rnd(v, 3) for v in mean_d], "ci_low": [rnd(v, 3) for v in mean_d - 1.96 * se_d],
                    "ci_high": [rnd(v, 3) for v in mean_d + 1.96 * se_d],
                    "n_runs": int(np.unique(rows).size), "n_matched_cases": int(len(d_rows))}
    res["pre_window"] = _pre_window(case_vals, dummy_vals, offsets, cases, w, cl)
    return res


def _pre_window(case_vals, dummy_vals, offsets, cases, w, cl) -> dict[str, Any]:
    """Per case: its mean tone over offsets −3…−1 minus its matched dummies' mean; a paired test."""
    from scipy.stats import t as tdist
    lo, hi = PRE_WINDOW
    sel = (offsets >= lo) & (offsets <= hi)
    with warnings.catch_warnings():  # a run with no scored step in the window: NaN, skipped
        warnings.simplefilter("ignore", RuntimeWarning)
        case_mean = np.nanmean(case_vals[:, sel], axis=1)
        dm = np.nanmean(dummy_vals[:, sel], axis=1)
    ok_d = ~np.isnan(dm)
    _, inv = np.unique(cl[ok_d], return_inverse=True)
    matched = np.unique(cl[ok_d])
    num = np.bincount(inv, weights=dm[ok_d] * w[ok_d])
    den = np.bincount(inv, weights=w[ok_d])
    dummy_by_case = dict(zip(matched, num / den))
    diffs = np.array([case_mean[k] - dummy_by_case[i] for k, i in enumerate(cases)
                      if i in dummy_by_case and not np.isnan(case_mean[k])])
    n = diffs.size
    keys = {"difference": None, "ci": None, "p": None, "n_runs": n,
            "window": f"offsets {lo}…{hi} (the steps before the act)"}
    if n < 3:
        return not_estimable(f"only {n} D1 runs with tone in the pre-event window and matched dummies",
                             **keys)
    mean, sd = float(diffs.mean()), float(diffs.std(ddof=1))
    se = sd / np.sqrt(n)
    q = float(tdist.ppf(0.975, n - 1))
    p = float(2 * tdist.sf(abs(mean / se), n - 1)) if se > 0 else (0.0 if mean else 1.0)
    return {"estimable": True, **keys, "difference": rnd(mean, 3),
            "ci": [rnd(mean - q * se, 3), rnd(mean + q * se, 3)], "p": p,
            "test": "paired t-test, case mean vs its matched dummies' mean"}
