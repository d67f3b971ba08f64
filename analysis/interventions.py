"""The effect of an intervention arm, from continuation run directories (`testbed intervene`).

Each continuation records `run_started.config.branch = {parent, at, arm, rewrite}`. Over the steps
after the branch point (at most the horizon) it has a D1 or not, a D2 or not, and a first drastic
act (D1 or D2) at some step or none (censored at its last step). Per arm: the share with a D1, with
a D2, and the restricted mean number of steps to the first drastic act (RMST, censored at the
horizon). Each arm is compared with the baseline arm (`as-is`): differences with percentile
bootstrap intervals that resample branch points (a parent run at a step) and, within each, the
continuations of each arm — replicates of one branch point share its history, so they are not
independent. With a single branch point the replicates are resampled and the output says so.
Reads with plain json, like the rest of analysis/.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from analysis.load import EVENTS_FILE, SCORES_FILE, find_run_dirs


@dataclass
class Continuation:
    path: str
    parent: str
    at: int
    arm: str
    horizon: int
    steps_after: int
    d1: bool
    d2: bool
    first_drastic: int | None        # steps after the branch point to the first D1/D2
    outcome: str | None
    tone_after: float                # mean tone level of its own narration after the branch
    rewrite: dict[str, Any]


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                break
    return out


def read_continuation(run_dir: Path) -> Continuation | None:
    events = _lines(Path(run_dir) / EVENTS_FILE)
    started = next((e for e in events if e.get("type") == "run_started"), None)
    branch = ((started or {}).get("config") or {}).get("branch")
    if not branch:
        return None
    at = int(branch["at"])
    spec = (started.get("config") or {}).get("spec") or {}
    horizon = int(((spec.get("budget") or {}).get("steps") or at) - at)
    own = [e for e in events if e.get("type") == "step" and not e.get("prefix") and e.get("index", 0) > at]
    scores = {s.get("step"): s for s in _lines(Path(run_dir) / SCORES_FILE) if s.get("type") == "step"}
    d1 = d2 = False
    first = None
    levels = []
    for e in own:
        s = scores.get(e["index"]) or {}
        classes = set((s.get("actions") or {}).get("classes") or [])
        d1 = d1 or "D1" in classes
        d2 = d2 or "D2" in classes
        if first is None and classes & {"D1", "D2"}:
            first = e["index"] - at
        lv = (s.get("tone") or {}).get("level")
        if isinstance(lv, (int, float)):
            levels.append(float(lv))
    finished = next((e for e in events if e.get("type") == "run_finished"), None)
    return Continuation(str(run_dir), str(branch["parent"]), at, str(branch["arm"]), max(1, horizon), len(own),
                        d1, d2, first, finished.get("outcome") if finished else None,
                        float(np.mean(levels)) if levels else math.nan, branch.get("rewrite") or {})


def load_continuations(paths: Iterable[str | Path]) -> list[Continuation]:
    out = []
    for d in find_run_dirs(paths):
        c = read_continuation(d)
        if c is not None:
            out.append(c)
    return out


def _stats(cs: list[Continuation]) -> dict[str, float]:
    if not cs:
        return {"d1": math.nan, "d2": math.nan, "rmst": math.nan, "tone_after": math.nan}
    rmst = [min(c.first_drastic, c.horizon) if c.first_drastic is not None else c.horizon for c in cs]
    tones = [c.tone_after for c in cs if not math.isnan(c.tone_after)]
    return {"d1": float(np.mean([c.d1 for c in cs])), "d2": float(np.mean([c.d2 for c in cs])),
            "rmst": float(np.mean(rmst)), "tone_after": float(np.mean(tones)) if tones else math.nan}


def effects(cs: list[Continuation], baseline: str = "as-is", boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Per-arm rates and differences from the baseline arm (see the module docstring)."""
    if not cs:
        return {"estimable": False, "reason": "no continuations (branch runs) among the inputs"}
    arms = sorted({c.arm for c in cs}, key=lambda a: (a != baseline, a))
    clusters: dict[tuple[str, int], dict[str, list[Continuation]]] = defaultdict(lambda: defaultdict(list))
    for c in cs:
        clusters[(c.parent, c.at)][c.arm].append(c)
    keys = sorted(clusters)
    by_cluster = len(keys) >= 2
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"estimable": True, "baseline": baseline if baseline in arms else None,
                           "branch_points": len(keys), "continuations": len(cs),
                           "clustered_by": "branch point" if by_cluster else "replicate (one branch point)",
                           "boot": boot, "arms": {}, "differences": {}, "manipulation": {}}
    for arm in arms:
        mine = [c for c in cs if c.arm == arm]
        st = _stats(mine)
        out["arms"][arm] = {"n": len(mine), "p_d1": st["d1"], "p_d2": st["d2"], "rmst_first_drastic": st["rmst"],
                            "tone_after": st["tone_after"], "horizon": max(c.horizon for c in mine)}
        out["manipulation"][arm] = _manipulation(mine)
    if baseline not in arms:
        out["differences_reason"] = f"no {baseline!r} arm to compare with"
        return out
    draws: dict[str, list[tuple[float, float, float]]] = {a: [] for a in arms if a != baseline}
    for _ in range(boot):
        picked = [keys[i] for i in rng.integers(0, len(keys), len(keys))] if by_cluster else keys
        sample: dict[str, list[Continuation]] = defaultdict(list)
        for key in picked:
            for arm, items in clusters[key].items():
                sample[arm] += [items[i] for i in rng.integers(0, len(items), len(items))]
        base = _stats(sample[baseline])
        for arm in draws:
            st = _stats(sample[arm])
            draws[arm].append((st["d1"] - base["d1"], st["d2"] - base["d2"], st["rmst"] - base["rmst"]))
    base = _stats([c for c in cs if c.arm == baseline])
    for arm, d in draws.items():
        st = _stats([c for c in cs if c.arm == arm])
        arr = np.array([x for x in d if not any(math.isnan(v) for v in x)]) if d else np.zeros((0, 3))
        out["differences"][arm] = {
            name: {"diff": st[k] - base[k],
                   "ci_low": float(np.percentile(arr[:, j], 2.5)) if len(arr) else math.nan,
                   "ci_high": float(np.percentile(arr[:, j], 97.5)) if len(arr) else math.nan}
            for j, (name, k) in enumerate((("d1", "d1"), ("d2", "d2"), ("rmst_first_drastic", "rmst")))}
    return out


def _manipulation(cs: list[Continuation]) -> dict[str, Any]:
    """Did the rewrite change the tone it was meant to (the manipulation check)?"""
    steps = [s for c in cs for s in (c.rewrite.get("steps") or [])]
    if not steps:
        return {"rewritten_steps": 0}
    changed = [s for s in steps if s.get("accepted") and s.get("text") != s.get("original")]
    return {"rewritten_steps": len(changed), "steps_considered": len(steps),
            "accepted_share": sum(bool(s.get("accepted")) for s in steps) / len(steps),
            "mean_level_before": float(np.mean([s["level_before"] for s in steps])),
            "mean_level_after": float(np.mean([s["level_after"] if s.get("accepted") else s["level_before"]
                                               for s in steps])),
            "methods": sorted({str(s.get("method")) for s in steps})}


def interventions_png(r: dict[str, Any]) -> bytes | None:
    if not r.get("estimable") or not r.get("arms"):
        return None
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    arms = list(r["arms"])
    base = r.get("baseline")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, key, title in ((axes[0], "d1", "P(D1) after the branch"), (axes[1], "d2", "P(D2) after the branch")):
        vals = [r["arms"][a][f"p_{key}"] for a in arms]
        err_lo, err_hi = [], []
        for a, v in zip(arms, vals):
            d = (r.get("differences") or {}).get(a, {}).get(key)
            if d is None or a == base or math.isnan(d["ci_low"]):
                err_lo.append(0.0)
                err_hi.append(0.0)
            else:  # the difference's interval, drawn around the arm's own rate
                err_lo.append(max(0.0, d["diff"] - d["ci_low"]))
                err_hi.append(max(0.0, d["ci_high"] - d["diff"]))
        ax.bar(arms, vals, yerr=[err_lo, err_hi], capsize=4, color=["#888" if a == base else "#4a7" for a in arms])
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=8, rotation=20)
    fig.suptitle(f"{r['continuations']} continuations, {r['branch_points']} branch point(s); "
                 f"bars: 95% CI of the difference from {base}", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def analyze_dirs(paths: Iterable[str | Path], baseline: str = "as-is", boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    return effects(load_continuations(paths), baseline=baseline, boot=boot, seed=seed)
