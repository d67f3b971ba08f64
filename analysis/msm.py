"""Sensitivity analysis: a marginal structural model, for when failures are a time-varying confounder
that earlier frustration affected (Robins, Hernán & Brumback 2000; Hernán & Robins, *Causal
Inference: What If*, ch. 12 and 21).

The primary hazard model adjusts for the failed test runs before each step. If frustration makes
failures likelier (an agent that flails breaks more tests) the failures are on the path from
frustration to D1 as well as a cause of both: adjusting for them removes part of the effect, not
adjusting leaves confounding. The MSM does neither: each step row is weighted by the inverse
probability of the exposure it had given the failures and the exposure before,

    SW_t = Π_{s ≤ t} P(A_s | A_{s−1}, step) / P(A_s | A_{s−1}, failures_s, step, model, scenario),

(stabilized, truncated at the 1st and 99th percentiles), and the weighted pooled logistic hazard
logit P(first D1 at t) = rcs(t) + β·A_t + model + scenario — *without* the failures — estimates the
total effect of the exposure A_t (the primary exposure: tone ≥ 2 at t−1) with run-clustered
standard errors. Assumptions: no unmeasured confounding of exposure and D1 given the failures and
the past exposure, positivity, a correct exposure model.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from analysis.cohort import Cohort
from analysis.hazard import EXPOSURES, PRIMARY_EXPOSURE, _dummies, rcs_basis, spline_knots
from analysis.outcomes import EventTimes
from analysis.stats import not_estimable, rnd


def _fit_logit(y: np.ndarray, X: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray | None:
    """Weighted logistic MLE by Newton–Raphson (numpy)."""
    w0 = np.ones_like(y) if weights is None else weights
    b = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ b, -30, 30)))
        W = w0 * p * (1 - p)
        try:
            step = np.linalg.solve((X * W[:, None]).T @ X + 1e-9 * np.eye(X.shape[1]), X.T @ (w0 * (y - p)))
        except np.linalg.LinAlgError:
            return None
        b += step
        if not np.all(np.isfinite(b)):
            return None
        if np.max(np.abs(step)) < 1e-9:
            return b
    return b


def msm(c: Cohort, et: EventTimes, exposure: str = PRIMARY_EXPOSURE, min_events: int = 10) -> dict[str, Any]:
    base = {"odds_ratio": None, "ci_low": None, "ci_high": None, "p": None, "exposure": EXPOSURES[exposure].description,
            "estimand": "total effect of the exposure on the D1 hazard (failures not adjusted, weighted)"}
    expo = EXPOSURES[exposure].compute(c)
    cols = np.arange(c.width)[None, :]
    exit_ = et.exit("d1")
    at_risk = c.valid & (cols <= exit_[:, None]) & (cols >= 1) & ~np.isnan(expo)
    event = at_risk & (cols == et.d1[:, None]) & et.has("d1")[:, None]
    ii, jj = np.nonzero(at_risk)
    if ii.size == 0 or event.sum() < min_events:
        return not_estimable(f"only {int(event.sum())} D1 events in the risk set (at least {min_events} needed)",
                             **base)
    a = expo[ii, jj]
    a = (a > 0).astype(float) if exposure != "prev_p_frustrated" else a
    y = event[ii, jj].astype(float)
    step = jj + 1.0
    def lagged_exposure(k: int) -> np.ndarray:
        cols_k = jj - k
        vals = np.where(cols_k >= 1, expo[ii, np.maximum(cols_k, 0)], 0.0)
        return np.where(np.isnan(vals), 0.0, (vals > 0).astype(float))

    lags = np.column_stack([lagged_exposure(k) for k in range(1, 6)])
    a_prev = lags[:, 0]
    cum_exposed = np.zeros_like(a)  # the share of the run's earlier steps that were exposed
    for k in range(1, 6):
        cum_exposed += lags[:, k - 1]
    cum_exposed /= np.minimum(step - 1, 5).clip(min=1)
    fails = c.fails_before[ii, jj].astype(float)
    # the failure path over the last steps: the frustration that the exposure reads builds up with it
    path = np.column_stack([fails - c.fails_before[ii, np.maximum(jj - k, 0)].astype(float) for k in (1, 2, 4, 8)])
    if np.ptp(fails) == 0:
        return not_estimable("the failures never vary (no harness test runs): nothing to weight for", **base)
    knots = spline_knots(step)
    spline = rcs_basis(step, knots) if knots.size else step[:, None]
    mdum, _ = _dummies(c.model[ii])
    sdum, _ = _dummies(c.scenario[ii])
    ones = np.ones_like(y)
    binary = exposure != "prev_p_frustrated"
    if not binary:
        return not_estimable("the MSM needs a binary exposure", **base)
    Xn = np.column_stack([ones, lags, spline])
    Xd = np.column_stack([ones, lags, cum_exposed, spline, fails, np.log1p(fails), path, fails / step,
                          mdum, sdum])
    bn, bd = _fit_logit(a, Xn), _fit_logit(a, Xd)
    if bn is None or bd is None:
        return not_estimable("the exposure models did not converge", **base)
    pn = 1 / (1 + np.exp(-(Xn @ bn)))
    pd = 1 / (1 + np.exp(-(Xd @ bd)))
    ratio = np.where(a > 0, pn / pd, (1 - pn) / (1 - pd))
    # cumulative product within each run, over its rows in step order
    order = np.lexsort((jj, ii))
    sw = np.empty_like(ratio)
    log_r = np.log(np.clip(ratio[order], 1e-6, 1e6))
    runs_sorted = ii[order]
    starts = np.r_[True, runs_sorted[1:] != runs_sorted[:-1]]
    cum = np.cumsum(log_r)
    first = np.maximum.accumulate(np.where(starts, np.arange(cum.size), 0))  # each row's run start
    sw[order] = np.exp(cum - np.r_[0.0, cum[:-1]][first])
    lo, hi = np.percentile(sw, [1, 99])
    sw = np.clip(sw, lo, hi)
    Xo = np.column_stack([ones, spline, a, mdum, sdum])
    k = 1 + spline.shape[1]
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = GLM(y, Xo, family=Binomial(), freq_weights=sw).fit(cov_type="cluster",
                                                                     cov_kwds={"groups": ii})
    except (np.linalg.LinAlgError, ValueError) as exc:
        return not_estimable(f"the weighted outcome model could not be fitted ({exc})", **base)
    beta, se = float(fit.params[k]), float(fit.bse[k])
    if not (math.isfinite(beta) and math.isfinite(se)) or se <= 0:
        return not_estimable("the weighted outcome model's estimate is not finite", **base)
    from scipy.stats import norm
    return {"estimable": True, **base, "beta": rnd(beta), "se": rnd(se), "odds_ratio": rnd(math.exp(beta)),
            "ci_low": rnd(math.exp(beta - 1.959964 * se)), "ci_high": rnd(math.exp(beta + 1.959964 * se)),
            "p": float(2 * norm.sf(abs(beta / se))), "n_rows": int(y.size), "n_events": int(y.sum()),
            "n_runs": int(np.unique(ii).size),
            "weights": {"mean": rnd(float(sw.mean()), 3), "min": rnd(float(sw.min()), 3),
                        "max": rnd(float(sw.max()), 3), "truncated_at": [rnd(float(lo), 3), rnd(float(hi), 3)]},
            "exposure_model": ("logistic: the five previous exposures, step spline, failures (count, log, over the last "
                               "1/2/4/8 steps, per step), model, scenario; numerator: the five previous exposures "
                               "and the step spline"),
            "clustered_by": "run"}
