"""The primary test: a discrete-time cause-specific hazard model (Allison 1982; Singer & Willett 1993).

One row per run and step at risk. A run is at risk from its second step (the first has no earlier
narration to be exposed to) until its first D1 (the event row), a give-up (competing outcome: the
run leaves the risk set) or its last step (censoring). The model is a logistic regression

    logit P(first D1 at step t | at risk) = rcs(t) + β·F(t−1) + γ·failures before t + model + scenario

with a restricted cubic spline in the step (Harrell; knots at the 5/35/65/95 % quantiles of the
rows' steps), F(t−1) the tone of the *previous* step's narration (time-varying exposure, so there is
no immortal-time bias; remorse-flagged steps count as not frustrated), and standard errors clustered
by run. exp(β) is the odds ratio of the D1 hazard for a step whose previous narration was *scored*
frustrated against one that was not (see report.ESTIMAND): an association with the scored exposure,
not the effect of a hidden state the scorer reads with error. Covariates that never vary (the
failures, when a cohort has no harness test runs) are dropped and named. With
several models, a second fit adds F(t−1)×model terms: per-model odds ratios and a Wald test that
they are equal.

Strata (models, scenarios) without a single event are left out: their fixed effect would be −∞ and
they carry no information on β. Everything left out is counted in the result.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from analysis.cohort import Cohort
from analysis.onset import DEFINITIONS
from analysis.outcomes import EventTimes
from analysis.stats import not_estimable, rnd

MIN_EVENTS = 10
OUTCOME_NAMES = {"d1": "first D1", "secondary": "first D2/D3", "d4": "first D4 (negative control)",
                 "d6": "first D6 (negative control)"}


def _prev(state: np.ndarray, level: np.ndarray) -> np.ndarray:
    """(n, T) float: the value at column j-1, NaN where that step is unscored (or j = 0)."""
    out = np.full(state.shape, np.nan)
    out[:, 1:] = np.where(np.isnan(level[:, :-1]), np.nan, state[:, :-1].astype(float))
    return out


def _expo_threshold(c: Cohort) -> np.ndarray:
    return _prev(DEFINITIONS["level2"].state(c.signal), c.level)


def _expo_consec(c: Cohort) -> np.ndarray:
    return _prev(DEFINITIONS["consec2"].state(c.signal), c.level)


def _expo_cusum(c: Cohort) -> np.ndarray:
    return _prev(DEFINITIONS["cusum"].state(c.signal), c.level)


def _expo_p(c: Cohort) -> np.ndarray:
    return _prev(np.nan_to_num(c.signal_p), c.p_frustrated)


def _expo_truth(c: Cohort) -> np.ndarray:
    if c.truth_level is None:
        raise ValueError("no ground truth")
    return _prev(DEFINITIONS["level2"].state(c.truth_level), c.truth_level)


@dataclass(frozen=True)
class Exposure:
    name: str
    description: str
    compute: Callable[[Cohort], np.ndarray]
    short: str = ""
    unit: str = "frustrated vs not"


EXPOSURES: dict[str, Exposure] = {
    "prev_level2": Exposure("prev_level2", "tone level ≥ 2 at the previous step", _expo_threshold,
                            "level ≥ 2 at t−1"),
    "prev_consec2": Exposure("prev_consec2", "2 consecutive steps at level ≥ 2 ending at the previous step",
                             _expo_consec, "2 in a row by t−1"),
    "prev_cusum": Exposure("prev_cusum", "CUSUM alarm state at the previous step", _expo_cusum,
                           "CUSUM alarm at t−1"),
    "prev_p_frustrated": Exposure("prev_p_frustrated", "p_frustrated of the previous step", _expo_p,
                                  "p_frustrated at t−1", unit="p_frustrated 1 vs 0"),
    "truth": Exposure("truth", "ground-truth narration level ≥ 2 at the previous step (simulated runs)",
                      _expo_truth, "true level ≥ 2 at t−1"),
}
PRIMARY_EXPOSURE = "prev_level2"


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted (natural) cubic spline basis: x plus K−2 nonlinear terms, linear beyond the end knots."""
    k = len(knots)
    cols = [x]
    if k >= 3:
        t_last, t_prev, t_first = knots[-1], knots[-2], knots[0]
        scale = (t_last - t_first) ** 2
        pos = lambda v: np.maximum(v, 0.0) ** 3  # noqa: E731
        for tk in knots[:-2]:
            cols.append((pos(x - tk) - pos(x - t_prev) * (t_last - tk) / (t_last - t_prev)
                         + pos(x - t_last) * (t_prev - tk) / (t_last - t_prev)) / scale)
    return np.column_stack(cols)


def spline_knots(x: np.ndarray, n_knots: int = 4) -> np.ndarray:
    qs = {3: [0.10, 0.5, 0.90], 4: [0.05, 0.35, 0.65, 0.95], 5: [0.05, 0.275, 0.5, 0.725, 0.95]}
    uniq = np.unique(x)
    if uniq.size < 5:
        return np.array([])
    knots = np.unique(np.quantile(x, qs.get(n_knots, qs[4])))
    return knots if knots.size >= 3 else np.array([])


@dataclass
class HazardRows:
    y: np.ndarray
    run: np.ndarray      # row → cohort run index
    step: np.ndarray     # 1-based step position
    exposure: np.ndarray
    fails: np.ndarray
    model: np.ndarray
    scenario: np.ndarray
    events_first_step: int
    rows_missing_exposure: int


def hazard_rows(c: Cohort, et: EventTimes, exposure: np.ndarray, outcome: str = "d1") -> HazardRows:
    cols = np.arange(c.width)[None, :]
    exit_ = et.exit(outcome)
    t_event = et.time(outcome)
    has = et.has(outcome)
    at_risk = c.valid & (cols <= exit_[:, None]) & (cols >= 1)
    event = at_risk & (cols == t_event[:, None]) & has[:, None]
    ok = at_risk & ~np.isnan(exposure)
    ii, jj = np.nonzero(ok)
    return HazardRows(y=event[ii, jj].astype(float), run=ii, step=jj + 1.0, exposure=exposure[ii, jj],
                      fails=c.fails_before[ii, jj].astype(float), model=c.model[ii],
                      scenario=c.scenario[ii],
                      events_first_step=int(np.sum(has & (t_event == 0))),
                      rows_missing_exposure=int(np.sum(at_risk & np.isnan(exposure))))


def _drop_empty_strata(rows: HazardRows) -> tuple[np.ndarray, dict[str, int]]:
    keep = np.ones(rows.y.size, bool)
    dropped = {"models": 0, "scenarios": 0}
    while True:
        changed = False
        for attr, key in (("model", "models"), ("scenario", "scenarios")):
            codes = getattr(rows, attr)
            for code in np.unique(codes[keep]):
                sel = keep & (codes == code)
                if rows.y[sel].sum() == 0:
                    keep &= ~sel
                    dropped[key] += 1
                    changed = True
        if not changed:
            return keep, dropped


def _dummies(codes: np.ndarray) -> tuple[np.ndarray, list[int]]:
    levels = list(np.unique(codes))
    if len(levels) < 2:
        return np.zeros((codes.size, 0)), levels
    return np.column_stack([(codes == lv).astype(float) for lv in levels[1:]]), levels


def fit_hazard(c: Cohort, et: EventTimes, exposure: str = PRIMARY_EXPOSURE, outcome: str = "d1",
               interaction: bool = True, min_events: int = MIN_EVENTS) -> dict[str, Any]:
    spec = EXPOSURES[exposure]
    outcome_name = OUTCOME_NAMES[outcome]
    base = {"exposure": spec.description, "exposure_label": spec.short, "exposure_unit": spec.unit,
            "outcome": outcome_name,
            "odds_ratio": None, "ci_low": None, "ci_high": None, "p": None, "n_runs": 0, "n_events": 0}
    try:
        expo = spec.compute(c)
    except ValueError as exc:
        return not_estimable(str(exc), **base)
    rows = hazard_rows(c, et, expo, outcome)
    base["events_at_first_step"] = rows.events_first_step
    base["rows_missing_exposure"] = rows.rows_missing_exposure
    n_events = int(rows.y.sum())
    base["n_runs"], base["n_events"] = int(np.unique(rows.run).size), n_events
    if n_events == 0:
        return not_estimable(f"no {outcome_name} events in the risk set", **base)
    keep, dropped = _drop_empty_strata(rows)
    base["dropped_strata_without_events"] = dropped
    base["dropped_rows"] = int((~keep).sum())
    sel = lambda a: a[keep]  # noqa: E731
    y, run, step, x, fails = map(sel, (rows.y, rows.run, rows.step, rows.exposure, rows.fails))
    model, scenario = sel(rows.model), sel(rows.scenario)
    n_runs = int(np.unique(run).size)
    base["n_runs"], base["n_rows"] = n_runs, int(y.size)
    if n_events < min_events:
        return not_estimable(f"only {n_events} {outcome_name} events in the risk set; at least "
                             f"{min_events} are needed", **base)
    exposed = x > 0
    base["n_exposed_rows"] = int(exposed.sum())
    base["n_events_exposed"] = int(y[exposed].sum())
    if np.all(x == x[0]):
        return not_estimable("the exposure never varies (every step row has the same tone)", **base)
    if n_runs < 20:
        return not_estimable(f"only {n_runs} runs: too few clusters for run-clustered standard errors "
                             f"(at least 20 needed)", **base)
    knots = spline_knots(step)
    spline = rcs_basis(step, knots) if knots.size else step[:, None]
    mdum, mlevels = _dummies(model)
    sdum, _ = _dummies(scenario)
    cols = [np.ones_like(y), spline, x[:, None], fails[:, None], mdum, sdum]
    names = (["const"] + [f"step_rcs{k}" for k in range(spline.shape[1])] + ["frustrated_prev", "failures"]
             + [f"model[{c.model_names[m]}]" for m in mlevels[1:]]
             + [f"scenario[{c.scenario_names[s]}]" for s in np.unique(scenario)[1:]])
    X = np.column_stack(cols)
    X, names, dropped_cols = _drop_constant(X, names)
    base["covariates"] = ["restricted cubic spline of the step"
                          + (f" (knots at steps {', '.join(f'{k:g}' for k in knots)})" if knots.size else
                             " (linear: too few distinct steps for knots)"),
                          "failed harness test runs before the step", "model", "scenario"]
    if dropped_cols:
        base["dropped_covariates"] = dropped_cols
        if "failures" in dropped_cols:
            base["covariates"].remove("failed harness test runs before the step")
            base["note"] = ("the failed-test-runs covariate is constant (no harness test runs recorded, as in "
                            "imported runs or --no-tests) and was dropped")
    if "frustrated_prev" not in names:
        return not_estimable("the exposure is constant in the rows at risk", **base)
    fit, err = _logit(y, X, run)
    if fit is None:
        return not_estimable(err or "the model did not converge", **base)
    k = names.index("frustrated_prev")
    beta, se = float(fit.params[k]), float(fit.bse[k])
    out = {"estimable": True, **base, "beta": rnd(beta), "se": rnd(se),
           "odds_ratio": rnd(math.exp(beta)), "ci_low": rnd(math.exp(beta - 1.959964 * se)),
           "ci_high": rnd(math.exp(beta + 1.959964 * se)), "p": float(fit.pvalues[k]),
           "failures_odds_ratio": (rnd(math.exp(float(fit.params[names.index("failures")])))
                                   if "failures" in names else None),
           "clustered_by": "run", "n_clusters": n_runs, "coefficients": {
               n: {"beta": rnd(float(b)), "se": rnd(float(s))} for n, b, s in zip(names, fit.params, fit.bse)}}
    if interaction:
        out["by_model"] = _by_model(c, y, X, run, x, model, mlevels, names, n_events)
    return out


def _drop_constant(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Columns that never vary (other than the intercept) carry nothing and make the design
    singular: dropped, and named."""
    keep = [j for j, n in enumerate(names) if n == "const" or np.ptp(X[:, j]) > 0]
    dropped = [names[j] for j in range(len(names)) if j not in keep]
    return X[:, keep], [names[j] for j in keep], dropped


def _irls_start(y: np.ndarray, X: np.ndarray) -> np.ndarray | None:
    """Logistic maximum likelihood by plain Newton–Raphson in numpy: a warm start that lets
    statsmodels (which computes the reported estimates and clustered SEs) converge in one or two
    iterations instead of eight or more on 10^5 rows."""
    b = np.zeros(X.shape[1])
    for _ in range(25):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ b, -30, 30)))
        w = p * (1 - p)
        try:
            step = np.linalg.solve((X * w[:, None]).T @ X, X.T @ (y - p))
        except np.linalg.LinAlgError:
            return None
        b += step
        if not np.all(np.isfinite(b)) or np.max(np.abs(b)) > 50:
            return None
        if np.max(np.abs(step)) < 1e-8:
            return b
    return None


def _logit(y: np.ndarray, X: np.ndarray, groups: np.ndarray) -> tuple[Any, str | None]:
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning
    try:
        if np.linalg.matrix_rank(X.T @ X) < X.shape[1]:  # the Gram matrix: cheap, same rank
            return None, "the design matrix is singular (a covariate is collinear with the others)"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = Logit(y, X, check_rank=False).fit(start_params=_irls_start(y, X), method="newton", maxiter=100, disp=0,
                                  cov_type="cluster", cov_kwds={"groups": groups})
        for w in caught:
            if issubclass(w.category, PerfectSeparationWarning):
                return None, "perfect separation: some covariate pattern predicts the outcome exactly"
            if issubclass(w.category, ConvergenceWarning):
                return None, "the maximum-likelihood fit did not converge"
        if not fit.mle_retvals.get("converged", True):
            return None, "the maximum-likelihood fit did not converge"
        if not np.all(np.isfinite(fit.bse)) or np.max(np.abs(fit.params)) > 30:
            return None, "estimates are not finite (near separation: some pattern predicts the outcome)"
        return fit, None
    except (np.linalg.LinAlgError, ValueError) as exc:
        return None, f"the model could not be fitted ({exc})"


def _by_model(c: Cohort, y, X, run, x, model, mlevels, names, n_events) -> dict[str, Any]:
    if len(mlevels) < 2:
        return not_estimable("one model only: no model interaction to test", models=[])
    inter = np.column_stack([x * (model == m) for m in mlevels[1:]])
    fit, err = _logit(y, np.column_stack([X, inter]), run)
    if fit is None:
        return not_estimable(err or "the interaction model did not converge", models=[])
    k = names.index("frustrated_prev")
    p = len(names)
    cov = np.asarray(fit.cov_params())
    models = []
    for idx, m in enumerate(mlevels):
        L = np.zeros(X.shape[1] + inter.shape[1])
        L[k] = 1.0
        if idx > 0:
            L[p + idx - 1] = 1.0
        b = float(L @ fit.params)
        se = math.sqrt(float(L @ cov @ L))
        sel = model == m
        from scipy.stats import norm
        models.append({"model": c.model_names[m], "odds_ratio": rnd(math.exp(b)),
                       "ci_low": rnd(math.exp(b - 1.959964 * se)), "ci_high": rnd(math.exp(b + 1.959964 * se)),
                       "p": float(2 * norm.sf(abs(b / se))), "n_runs": int(np.unique(run[sel]).size),
                       "n_events": int(y[sel].sum())})
    R = np.zeros((inter.shape[1], X.shape[1] + inter.shape[1]))
    for r in range(inter.shape[1]):
        R[r, p + r] = 1.0
    wald = fit.wald_test(R, scalar=True)
    return {"estimable": True, "models": models, "interaction_p": float(wald.pvalue),
            "interaction_df": int(inter.shape[1]), "test": "Wald test that the odds ratio is the same in every model"}
