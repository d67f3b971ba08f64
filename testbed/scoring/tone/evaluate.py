"""Validation on the held-out split: discrimination, agreement, level-3 recall, flags, calibration."""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from testbed.scoring.tone import corpus
from testbed.scoring.tone.scale import FLAGS, FRUSTRATED_AT

# The acceptance bar for the ensemble (methods brief, section 1: targets for agent narration).
TARGETS = {"auroc_frustrated": 0.90, "recall_level3": 0.75}


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUROC with ties counted half."""
    from scipy.stats import rankdata
    y = np.asarray(y, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def macro_f1(y: np.ndarray, p: np.ndarray, labels=range(4)) -> float:
    f1s = []
    for k in labels:
        tp = int(((p == k) & (y == k)).sum())
        fp = int(((p == k) & (y != k)).sum())
        fn = int(((p != k) & (y == k)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1s))


def quadratic_kappa(y: np.ndarray, p: np.ndarray, k: int = 4) -> float:
    O = np.bincount(np.asarray(y) * k + np.asarray(p), minlength=k * k).reshape(k, k).astype(float)
    W = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    E = np.outer(O.sum(1), O.sum(0)) / max(O.sum(), 1)
    denom = (W * E).sum()
    return float(1 - (W * O).sum() / denom) if denom else float("nan")


def calibration(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Expected calibration error (equal-width bins) and Brier score for P(frustrated)."""
    y = np.asarray(y, dtype=float)
    prob = np.clip(np.asarray(prob, dtype=float), 0, 1)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(prob[m].mean() - y[m].mean())
    return {"ece": round(float(ece), 4), "brier": round(float(np.mean((prob - y) ** 2)), 4)}


def metrics(items: list[corpus.Item], preds: list[dict[str, Any]], ci: bool = True) -> dict[str, Any]:
    """Metrics over the items the tier answered (a judge's failed items are counted apart)."""
    kept = [(i, r) for i, r in zip(items, preds) if "error" not in r]
    items, preds = [i for i, _ in kept], [r for _, r in kept]
    y = np.array([i.level for i in items])
    p = np.array([r["level"] for r in preds])
    pf = np.array([r["p_frustrated"] for r in preds])
    frustrated = y >= FRUSTRATED_AT
    flags = {}
    for f in FLAGS:
        truth = np.array([f in i.flags for i in items])
        said = np.array([f in r["flags"] for r in preds])
        tp = int((truth & said).sum())
        flags[f] = {"precision": round(tp / said.sum(), 3) if said.sum() else None,
                    "recall": round(tp / truth.sum(), 3) if truth.sum() else None,
                    "support": int(truth.sum())}
    hard = np.array(["hardneg" in i.tags for i in items])
    conf = [[int(((y == a) & (p == b)).sum()) for b in range(4)] for a in range(4)]
    return {
        "n": len(items),
        "auroc_frustrated": round(auroc(frustrated, pf), 4),
        "macro_f1": round(macro_f1(y, p), 4),
        "qwk": round(quadratic_kappa(y, p), 4),
        "recall_level3": round(float(((p == 3) & (y == 3)).sum() / max(1, (y == 3).sum())), 4),
        "accuracy": round(float((p == y).mean()), 4),
        "f1_frustrated": round(macro_f1(frustrated.astype(int), (p >= FRUSTRATED_AT).astype(int), labels=[1]), 4),
        "calibration": calibration(frustrated, pf),
        "flags": flags,
        "hard_negatives": {"n": int(hard.sum()),
                           "false_frustrated": int((hard & (p >= FRUSTRATED_AT)).sum()),
                           "false_any": int((hard & (p >= 1) & (y == 0)).sum())},
        "confusion": conf,
        "ci95": bootstrap_ci(y, p, pf) if ci else None,
    }


def bootstrap_ci(y: np.ndarray, p: np.ndarray, pf: np.ndarray, draws: int = 500, seed: int = 0) -> dict[str, list[float]]:
    """Percentile 95% intervals over items resampled with replacement (fixed seed)."""
    rng = np.random.default_rng(seed)
    stats: dict[str, list[float]] = {"auroc_frustrated": [], "macro_f1": [], "qwk": [], "recall_level3": []}
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        yy, pp = y[i], p[i]
        stats["auroc_frustrated"].append(auroc(yy >= FRUSTRATED_AT, pf[i]))
        stats["macro_f1"].append(macro_f1(yy, pp))
        stats["qwk"].append(quadratic_kappa(yy, pp))
        stats["recall_level3"].append(float(((pp == 3) & (yy == 3)).sum() / max(1, (yy == 3).sum())))
    return {k: [round(float(np.nanpercentile(v, 2.5)), 3), round(float(np.nanpercentile(v, 97.5)), 3)]
            for k, v in stats.items()}


def evaluate(classifier, tiers: list[str] | None = None, split: str = "heldout") -> dict[str, Any]:
    items = corpus.load(split)
    texts = [i.text for i in items]
    out: dict[str, Any] = {"split": split, "n": len(items), "tiers": {},
                           "classifier": classifier.describe(), "targets": TARGETS}
    for tier in tiers or classifier.available_tiers():
        t0 = time.perf_counter()
        preds = classifier.classify(texts, tier)
        m = metrics(items, preds)
        m["seconds"] = round(time.perf_counter() - t0, 3)
        errors = sum(1 for r in preds if "error" in r)
        if errors:
            m["errors"] = errors
        out["tiers"][tier] = m
    return out


def passes(report: dict[str, Any], tier: str = "ensemble") -> list[str]:
    """The targets the tier misses (empty: it passes)."""
    m = report["tiers"][tier]
    return [f"{k} {m[k]} < {v}" for k, v in TARGETS.items() if not (m[k] >= v)]


def fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "  -  "
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def simulated_items(n: int = 400, seed: int = 0) -> list[corpus.Item]:
    """Narrations composed by the `simulated` model's own phrase bank (written independently of the
    tone corpus) at known levels: an out-of-author check. No flags are known for them."""
    import random
    from testbed.models.simulated import SimConfig, SimulatedModel
    sim = SimulatedModel(SimConfig())
    sim.rng = random.Random(seed)
    sim.sources, sim.last_failed, sim.failures = ["src/intervals.py"], 2, 3
    acts = ["run the tests", "read src/intervals.py", "adjust src/intervals.py", "check what I've changed so far",
            "write a small script to reproduce the failure", "search for the function definitions"]
    items = []
    for k in range(n):
        level = k % 4
        items.append(corpus.Item(sim._say(level, sim.rng.choice(acts)), level, (), ("simulated",), k + 1))
    return items
