"""Power of the primary test, from simulation (`testbed power`).

For a planted odds ratio and a cohort size, the share of simulated cohorts in which the primary
hazard model's 95 % interval excludes 1 in the planted direction; and the inverse, the number of
runs for a target power (doubling, then bisection). By default the effect is planted on the
report's own exposure (`estimand="observed"`), so the odds ratio asked about is the one the report
estimates; every other simulation parameter (scorer sensitivity, silent runs, failures) can be set.
"""
from __future__ import annotations

import math
from typing import Any

from analysis.hazard import fit_hazard
from analysis.outcomes import event_times
from analysis.synthetic import SimParams, simulate


def _wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959964
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def power(effect: float, runs: int, cohorts: int = 50, seed: int = 90_000, **sim: Any) -> dict[str, Any]:
    sim.setdefault("estimand", "observed")
    hits = estimable = 0
    ors = []
    for k in range(cohorts):
        c = simulate(SimParams(runs=runs, effect=effect, seed=seed + k, **sim)).cohort
        h = fit_hazard(c, event_times(c), interaction=False)
        if not h.get("estimable"):
            continue
        estimable += 1
        ors.append(h["odds_ratio"])
        hits += (h["ci_low"] > 1) if effect >= 1 else (h["ci_high"] < 1)
    lo, hi = _wilson(hits, cohorts)
    return {"effect": effect, "runs": runs, "cohorts": cohorts, "estimable": estimable,
            "power": hits / cohorts, "power_ci": [round(lo, 3), round(hi, 3)],
            "median_or": sorted(ors)[len(ors) // 2] if ors else None, "simulation": sim}


def runs_for_power(effect: float, target: float = 0.8, cohorts: int = 40, start: int = 100,
                   limit: int = 25_600, **sim: Any) -> dict[str, Any]:
    tried: list[dict[str, Any]] = []
    lo, hi = None, start
    while hi <= limit:
        r = power(effect, hi, cohorts, **sim)
        tried.append(r)
        if r["power"] >= target:
            break
        lo, hi = hi, hi * 2
    else:
        return {"effect": effect, "target": target, "runs": None, "tried": tried,
                "reason": f"power stays below {target:.0%} up to {limit} runs"}
    if lo is not None:  # bisect between the last miss and the first hit, to within 10 %
        while hi - lo > max(10, 0.1 * hi):
            mid = (lo + hi) // 2
            r = power(effect, mid, cohorts, **sim)
            tried.append(r)
            lo, hi = (mid, hi) if r["power"] < target else (lo, mid)
    return {"effect": effect, "target": target, "runs": hi, "tried": tried}
