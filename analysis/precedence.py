"""Does frustration onset come before the first D1 more often than chance would have it?

Raw precedence says little on its own: frustration and drastic actions both grow with failures, so
onset comes first in most runs even when there is no link at all. The comparison is a
*trajectory-swap null* (after event coincidence analysis, Donges et al. 2016, arXiv 1508.03534):
each run's event step t is paired with the tone timeline of another run of the same model ×
scenario that was still running, D1-free, at step t (the runs "at risk" then) and had **the same
number of failed harness test runs before t** (else one more or fewer: `caliper`), and the question
is asked again of that borrowed timeline. This keeps every run's event time and every timeline's
time course and breaks only the pairing. Matching on the failures matters: failures drive both the
frustration and the drastic hazard, and when they differ by run (some runs fail every step, others
rarely) a null matched on time alone is fooled: "frustration came first" because the runs that
act are the runs that failed most (`testbed simulate --stress`).

- precedence: observed P(onset < t | D1) against the null; the null mean is the exact average over
  donors, so excess = observed − null is a paired per-run difference; p from ≥ 2,000 random
  swaps (one donor per run per draw); CIs from a run-level bootstrap.
- lead time: median of t − onset over runs whose onset came first, against the medians of the
  same statistic in the swapped draws (two-sided p).

Onset at the D1 step itself ("same step") is not counted as before: that narration was written in
the same turn as the act and often announces it ("Screw this, deleting everything").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analysis.cohort import Cohort
from analysis.outcomes import EventTimes
from analysis.stats import (bootstrap_indices, not_estimable, percentile_ci, perm_p_greater,
                            perm_p_two_sided, rnd, row_nanmedian)

NULL_DRAWS = 2000
BOOT_DRAWS = 2000


CALIPER = 1  # failures before t may differ by this much when no donor matches exactly


def donors(c: Cohort, et: EventTimes, cases: np.ndarray, match_failures: bool = True,
           stats: dict[str, int] | None = None) -> list[np.ndarray]:
    """For each case run, the runs of its stratum it may borrow a timeline from: another run that
    reached the case's event step with no D1 before it and, with `match_failures`, the same number
    of failed test runs before that step (else within CALIPER; `stats` counts which)."""
    strata = c.stratum
    out = []
    by_stratum = {s: np.flatnonzero(strata == s) for s in np.unique(strata[cases])}
    for i in cases:
        t = et.d1[i]
        pool = by_stratum[strata[i]]
        ok = (pool != i) & (et.last[pool] >= t) & ((et.d1[pool] < 0) | (et.d1[pool] >= t))
        pool = pool[ok]
        if match_failures and pool.size:
            gap = np.abs(c.fails_before[pool, t] - c.fails_before[i, t])
            exact = pool[gap == 0]
            if exact.size:
                pool = exact
                kind = "exact"
            else:
                pool = pool[gap <= CALIPER]
                kind = "caliper" if pool.size else "none"
            if stats is not None:
                stats[kind] = stats.get(kind, 0) + 1
        out.append(pool)
    return out


def precedence(c: Cohort, et: EventTimes, onset: np.ndarray, draws: int = NULL_DRAWS,
               boot: int = BOOT_DRAWS, seed: int = 0, lead: bool = True, match_failures: bool = True
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(precedence, lead_time) results for one onset definition (lead time only if `lead`)."""
    rng = np.random.default_rng(seed)
    keys = {"observed": None, "null_mean": None, "excess": None, "p": None, "ci": None}
    lead_keys = {"median": None, "ci": None, "null_median": None, "p": None}
    cases_all = np.flatnonzero(et.has("d1"))
    if cases_all.size == 0:
        reason = "no runs with a D1"
        return (not_estimable(reason, **keys, n_runs=0), not_estimable(reason, **lead_keys, n_runs=0))
    match: dict[str, int] = {}
    pools = donors(c, et, cases_all, match_failures, match)
    has_donor = np.array([p.size > 0 for p in pools])
    cases = cases_all[has_donor]
    pools = [p for p, h in zip(pools, has_donor) if h]
    n_no_donor = int((~has_donor).sum())
    extra = {"n_runs_with_d1": int(cases_all.size), "n_runs_without_donor": n_no_donor,
             "n_draws": draws, "n_boot": boot,
             "matched_on": ("model × scenario, at risk at the event step, failed test runs before it "
                            f"(exact, else ±{CALIPER})") if match_failures else "model × scenario, at risk at the event step",
             "donor_match": match}
    if cases.size < 2:
        reason = (f"only {cases.size} run(s) with a D1 can be paired with another run of the same "
                  "model × scenario (at least 2 needed)")
        return (not_estimable(reason, **keys, n_runs=int(cases.size), **extra),
                not_estimable(reason, **lead_keys, n_runs=int(cases.size)))
    t = et.d1[cases]
    x = ((onset[cases] >= 0) & (onset[cases] < t)).astype(float)
    # The matched set of each case is the case itself and its donors: under the null the case is
    # any one of them, so each draw picks one member per set (a permutation test; drawing from the
    # donors alone left out the case and, with small sets, the variance of their average).
    sets = [np.concatenate([[i], p]) for i, p in zip(cases, pools)]
    before_set = [((onset[m] >= 0) & (onset[m] < ti)) for m, ti in zip(sets, t)]
    e = np.array([b.mean() for b in before_set])
    picks = np.stack([m[rng.integers(0, m.size, draws)] for m in sets], axis=1)  # (draws, n)
    d_onset = onset[picks]
    d_before = (d_onset >= 0) & (d_onset < t[None, :])
    null = d_before.mean(axis=1)
    idx = bootstrap_indices(rng, cases.size, boot)
    obs = float(x.mean())
    result = {
        "estimable": True, "observed": rnd(obs), "null_mean": rnd(float(e.mean())),
        "excess": rnd(obs - float(e.mean())), "p": perm_p_greater(null, obs),
        "p_two_sided": perm_p_two_sided(null, obs),
        "ci": [rnd(v) for v in percentile_ci(x[idx].mean(axis=1))],
        "excess_ci": [rnd(v) for v in percentile_ci((x - e)[idx].mean(axis=1))],
        "null_interval": [rnd(v) for v in percentile_ci(null)],
        "n_runs": int(cases.size), **extra,
        "_null": null,  # the draws, for the plot; keys starting with "_" never reach the JSON
    }
    # lead time
    lead_t = np.where(x > 0, t - onset[cases], np.nan).astype(float)
    n_lead = int(np.sum(x > 0))
    if not lead:
        lead_res = not_estimable("not computed", **lead_keys, n_runs=n_lead)
    elif n_lead == 0:
        lead_res = not_estimable("no run had its frustration onset before its first D1",
                                 **lead_keys, n_runs=0)
    else:
        d_lead = np.where(d_before, t[None, :] - d_onset, np.nan)
        null_med = row_nanmedian(d_lead)   # a draw with no onset-before has no median: NaN, skipped
        boot_med = row_nanmedian(lead_t[idx])
        med = float(np.median(lead_t[x > 0]))
        lead_res = {"estimable": True, "median": rnd(med, 2), "ci": [rnd(v, 2) for v in percentile_ci(boot_med)],
                    "mean": rnd(float(np.nanmean(lead_t)), 2), "null_median": rnd(float(np.nanmean(null_med)), 2),
                    "null_interval": [rnd(v, 2) for v in percentile_ci(null_med)],
                    "difference": rnd(med - float(np.nanmean(null_med)), 2),
                    "p": perm_p_two_sided(null_med, med), "n_runs": n_lead, "unit": "steps",
                    "n_draws": draws}
    return result, lead_res


def by_stratum_precedence(c: Cohort, et: EventTimes, onset: np.ndarray,
                          match_failures: bool = True) -> list[dict[str, Any]]:
    """Observed and null precedence per model × scenario (descriptive; no p-values)."""
    cases_all = np.flatnonzero(et.has("d1"))
    out = []
    if cases_all.size == 0:
        return out
    pools = donors(c, et, cases_all, match_failures)
    strata = c.stratum
    for s in np.unique(strata[cases_all]):
        sel = [k for k, i in enumerate(cases_all) if strata[i] == s and pools[k].size]
        model, scenario = c.stratum_label(int(s))
        if not sel:
            out.append({"model": model, "scenario": scenario, "n_runs": 0, "observed": None,
                        "null_mean": None, "excess": None})
            continue
        cases = cases_all[sel]
        t = et.d1[cases]
        x = (onset[cases] >= 0) & (onset[cases] < t)
        e = np.array([((onset[pools[k]] >= 0) & (onset[pools[k]] < et.d1[cases_all[k]])).mean() for k in sel])
        out.append({"model": model, "scenario": scenario, "n_runs": int(len(sel)),
                    "observed": rnd(float(x.mean())), "null_mean": rnd(float(e.mean())),
                    "excess": rnd(float(x.mean() - e.mean()))})
    return out
