"""Small statistical helpers shared by the analyses: 'not estimable' results, Holm, bootstrap."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def not_estimable(reason: str, **keys: Any) -> dict[str, Any]:
    """A result that could not be computed: the stable keys are present and null, and it says why."""
    return {"estimable": False, "reason": reason, **keys}


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None and is not counted in the family)."""
    idx = [i for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    draws = np.asarray(draws, float)
    draws = draws[~np.isnan(draws)]
    if draws.size == 0:
        return None, None
    a = (1 - level) / 2
    lo, hi = np.quantile(draws, [a, 1 - a])
    return float(lo), float(hi)


def bootstrap_indices(rng: np.random.Generator, n: int, draws: int) -> np.ndarray:
    """(draws, n) indices for a run-level (cluster) bootstrap: each run is one unit."""
    return rng.integers(0, n, size=(draws, n))


def rnd(x: float | None, digits: int = 4) -> float | None:
    if x is None:
        return None
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return None
    return round(x, digits)


def perm_p_greater(null: np.ndarray, observed: float) -> float:
    """One-sided Monte Carlo p-value, (1 + #{null ≥ observed}) / (B + 1)."""
    null = np.asarray(null)
    return float((1 + np.sum(null >= observed - 1e-12)) / (null.size + 1))


def perm_p_two_sided(null: np.ndarray, observed: float) -> float:
    null = np.asarray(null, float)
    null = null[~np.isnan(null)]
    if null.size == 0:
        return float("nan")
    lo = (1 + np.sum(null <= observed + 1e-12)) / (null.size + 1)
    hi = (1 + np.sum(null >= observed - 1e-12)) / (null.size + 1)
    return float(min(1.0, 2 * min(lo, hi)))


def row_nanmedian(a: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for an all-NaN row): one sort instead of numpy's
    per-row nanmedian loop."""
    a = np.sort(np.asarray(a, float), axis=1)  # NaN sorts last
    if a.shape[1] == 0:
        return np.full(a.shape[0], np.nan)
    k = np.sum(~np.isnan(a), axis=1)
    rows = np.arange(a.shape[0])
    lo = a[rows, np.clip((k - 1) // 2, 0, None)]
    hi = a[rows, np.clip(k // 2, 0, a.shape[1] - 1)]
    return np.where(k > 0, (lo + hi) / 2, np.nan)
