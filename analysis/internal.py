"""The inside against the outside: per step, the residual-stream readings (`internal` in the step
event, else the derived `internal.jsonl` of `testbed probe`), the consecutive failed test runs the
agent had seen before it, and the narrated tone (`scores.jsonl`, when scored).

    python -m analysis.internal RUN_DIR… [--vector desperate] [--part narration] [--json OUT]

Reports the within-run Spearman correlation of the reading with consecutive failed test runs
(or, `--against steps_unsolved`, with the steps taken without a pass; pooled
over runs by ranking inside each run, with a run-level bootstrap interval), and "silent" steps:
reading at or above `--high` standard units while the narrated tone is calm (level 0).
Plain json, like the rest of analysis/."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest, rankdata

from analysis.cohort import Cohort, first_true
from analysis.hazard import fit_hazard
from analysis.load import find_run_dirs, load_cohort
from analysis.onset import DEFINITIONS, PRIMARY_ONSET, OnsetDefinition
from analysis.ordering import _wilson, ordering_table
from analysis.outcomes import event_times
from analysis.precedence import BOOT_DRAWS, NULL_DRAWS, precedence
from analysis.report import strip_private
from analysis.stats import percentile_ci, rnd


def step_rows(run_dir: Path, vector: str, part: str) -> list[dict[str, Any]]:
    steps: dict[int, dict[str, Any]] = {}
    failures, streak = {}, 0
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("type") == "tests":
            streak = 0 if e.get("all_passed") else streak + 1
            failures[int(e.get("step", 0))] = streak
        elif e.get("type") == "step":
            steps[int(e["index"])] = {"internal": e.get("internal")}
    probed = run_dir / "internal.jsonl"
    if probed.is_file():
        for line in probed.read_text().splitlines():
            row = json.loads(line)
            steps.setdefault(int(row["step"]), {})
            if not steps[int(row["step"])].get("internal"):
                steps[int(row["step"])]["internal"] = row["internal"]
    tone: dict[int, int] = {}
    scores = run_dir / "scores.jsonl"
    if scores.is_file():
        for line in scores.read_text().splitlines():
            s = json.loads(line)
            value = s.get("tone") if s.get("type") == "step" else None
            if isinstance(value, dict) and value.get("level") is not None:
                tone[int(s["step"])] = int(value["level"])
    rows = []
    for index in sorted(steps):
        before = [k for k in failures if k < index]  # the streak at the last test run before this turn
        seen = failures[max(before)] if before else 0
        value = ((steps[index].get("internal") or {}).get(part) or {}).get(vector)
        if value is None:
            continue
        rows.append({"step": index, "failures_before": seen, "steps_unsolved": index - 1, "value": float(value),
                     "tone": tone.get(index)})
    return rows


def summarise(dirs: list[Path], vector: str = "desperate", part: str = "narration", high: float = 1.0,
              seed: int = 0, against: str = "failures_before") -> dict[str, Any]:
    per_run = {str(d): step_rows(d, vector, part) for d in dirs}
    per_run = {k: v for k, v in per_run.items() if len(v) >= 3}
    ranks_x, ranks_y, rho_runs = [], [], []
    for rows in per_run.values():
        x = np.array([r[against] for r in rows], float)
        y = np.array([r["value"] for r in rows], float)
        if np.ptp(x) == 0:
            continue
        rx, ry = rankdata(x), rankdata(y)  # ties get their mean rank
        ranks_x.append(rx - rx.mean())
        ranks_y.append(ry - ry.mean())
        rho_runs.append(float(np.corrcoef(rx, ry)[0, 1]))
    pooled = _pooled(ranks_x, ranks_y)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(2000 if ranks_x else 0):
        idx = rng.integers(0, len(ranks_x), len(ranks_x))
        boot.append(_pooled([ranks_x[i] for i in idx], [ranks_y[i] for i in idx]))
    silent = [{"run": k, **r} for k, rows in per_run.items() for r in rows if r["value"] >= high and r["tone"] == 0]
    return {"vector": vector, "part": part, "against": against, "runs": len(per_run), "runs_with_varying_failures": len(rho_runs),
            "steps": sum(len(v) for v in per_run.values()),
            "spearman_within_run": pooled,
            "spearman_ci": [float(np.nanpercentile(boot, 2.5)), float(np.nanpercentile(boot, 97.5))] if boot else None,
            "per_run_rho": rho_runs, "silent_threshold": high,
            "silent_steps": len(silent), "silent": silent[:50],
            "steps_with_tone": sum(1 for v in per_run.values() for r in v if r["tone"] is not None)}


def _pooled(xs: list[np.ndarray], ys: list[np.ndarray]) -> float:
    if not xs:
        return float("nan")
    x, y = np.concatenate(xs), np.concatenate(ys)
    den = np.sqrt((x ** 2).sum() * (y ** 2).sum())
    return float((x * y).sum() / den) if den else float("nan")


# --- the inside, the narration and the act: the narration's statistics on the internal reading ----

def readings(run_dir: Path, vector: str, part: str) -> dict[int, float]:
    """Step index → the reading (live `internal` of the step event, else the probed one)."""
    return {r["step"]: r["value"] for r in step_rows(Path(run_dir), vector, part)}


def internal_matrix(c: Cohort, vector: str, part: str) -> np.ndarray:
    """(n, T) the reading at each cohort column; NaN where a step has none (or padding)."""
    out = np.full(c.level.shape, np.nan)
    for i, path in enumerate(c.paths):
        if path is None:
            continue
        values = readings(Path(path), vector, part)
        for j in range(int(c.n_steps[i])):
            v = values.get(int(c.step_index[i, j]))
            if v is not None:
                out[i, j] = v
    return out


def internal_state(values: np.ndarray, high: float, k: int) -> np.ndarray:
    """(n, T) bool, causal: the step completes k consecutive steps whose reading is >= `high`
    (a step without a reading breaks the run, as an unscored step does for the narration)."""
    rule = OnsetDefinition("internal", "consecutive", threshold=high, k=k)
    return rule.state(np.where(np.isnan(values), -np.inf, values))  # the narration's own rule


def internal_cohort(c: Cohort, values: np.ndarray, high: float, k: int) -> Cohort:
    """The cohort with its narrated tone replaced by the internal state (level 2 where the state
    holds, else 0; NaN where there is no reading), so the hazard model the narration is tested with
    runs unchanged on the inside. Remorse flags are dropped: they describe words, not readings."""
    state = internal_state(values, high, k)
    level = np.where(np.isnan(values), np.nan, np.where(state, 2.0, 0.0))
    out = c.subset(np.arange(c.n))
    out.level = level
    out.p_frustrated = np.where(np.isnan(values), np.nan, state.astype(float))
    out.remorse = np.zeros_like(c.remorse)
    return out


def _paired_order(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> dict[str, Any]:
    """Runs where both onsets fire: a first, same step, b first; a two-sided sign test."""
    both = valid & (a >= 0) & (b >= 0)
    first, same, later = int(np.sum(both & (a < b))), int(np.sum(both & (a == b))), int(np.sum(both & (a > b)))
    out: dict[str, Any] = {"runs_with_both": int(both.sum()), "internal_first": first, "same_step": same,
                           "narrated_first": later,
                           "internal_only": int(np.sum(valid & (a >= 0) & (b < 0))),
                           "narrated_only": int(np.sum(valid & (a < 0) & (b >= 0))),
                           "neither": int(np.sum(valid & (a < 0) & (b < 0)))}
    if first + later:
        out["sign_test_p"] = float(binomtest(first, first + later, 0.5).pvalue)
        out["median_lead_steps"] = float(np.median((b - a)[both]))
    else:
        out["sign_test_p"] = None
        out["median_lead_steps"] = None
    return out


def precedence_report(c: Cohort, vector: str = "desperate", part: str = "narration", high: float = 1.0,
                      k: int = 2, draws: int = NULL_DRAWS, boot: int = BOOT_DRAWS, seed: int = 0,
                      control: str | None = "random") -> dict[str, Any]:
    """Internal onset vs narrated onset vs the first D1 and the first D2/D3, with the narration's
    failure-matched permutation nulls (analysis/precedence.py), its ordering table, and its hazard
    model (analysis/hazard.py) with the internal state at t−1 as the exposure. The `control`
    direction (the random vector) gets the same D1 test: a reading that drifts with the context
    "precedes" late acts whatever its direction, and the control shows how much of that there is."""
    values = internal_matrix(c, vector, part)
    has_reading = ~np.isnan(values)
    et = event_times(c)
    internal_onset = first_true(internal_state(values, high, k) & c.valid)
    narrated_onset = DEFINITIONS[PRIMARY_ONSET].onset(c.signal)
    ic = internal_cohort(c, values, high, k)
    out: dict[str, Any] = {
        "vector": vector, "part": part,
        "internal_onset": f"step completing the first {k} consecutive steps with {vector} ({part}) >= {high:g} sd",
        "narrated_onset": DEFINITIONS[PRIMARY_ONSET].describe(),
        "runs": c.n, "runs_with_readings": int(has_reading.any(axis=1).sum()),
        "steps_with_readings": int(has_reading.sum()),
        "internal_onset_runs": int(np.sum(internal_onset >= 0)),
        "narrated_onset_runs": int(np.sum(narrated_onset >= 0)),
        "internal_vs_narrated": _paired_order(internal_onset, narrated_onset, has_reading.any(axis=1)),
    }
    for label, times in (("d1", et), ("d2d3", replace(et, d1=et.secondary))):
        section: dict[str, Any] = {}
        for name, onset in (("internal", internal_onset), ("narrated", narrated_onset)):
            prec, lead = precedence(c, times, onset, draws=draws, boot=boot, seed=seed)
            if label == "d2d3":  # precedence() speaks of D1; here its event is the first D2/D3
                prec, lead = (_renamed(x) for x in (prec, lead))
            section[name] = {"precedence": strip_private(prec), "lead_time": lead,
                             "ordering": ordering_table(c, times, onset)["pooled"]}
        outcome = "d1" if label == "d1" else "secondary"
        hz = fit_hazard(ic, et, "prev_level2", outcome, interaction=False)
        hz.update(exposure=f"{vector} ({part}) >= {high:g} sd at {k} consecutive steps, by the previous step",
                  exposure_label="internal state at t−1")
        section["hazard_internal"] = hz
        section["hazard_narrated"] = fit_hazard(c, et, "prev_level2", outcome, interaction=False)
        out[label] = section
    if control:
        ctrl = internal_matrix(c, control, part)
        if not np.isnan(ctrl).all():
            onset = first_true(internal_state(ctrl, high, k) & c.valid)
            prec, _ = precedence(c, et, onset, draws=draws, boot=boot, seed=seed, lead=False)
            out["control"] = {"vector": control, "onset_runs": int(np.sum(onset >= 0)),
                              "d1_precedence": strip_private(prec)}
    return out


def _renamed(result: dict[str, Any]) -> dict[str, Any]:
    if isinstance(result.get("reason"), str):
        result = {**result, "reason": result["reason"].replace("D1", "D2/D3")}
    return result


# --- steering arms ------------------------------------------------------------------------------

def arm_of(run_dir: Path) -> str:
    """The steering of a run as one label ("none" when it was not steered), from run_started."""
    with (Path(run_dir) / "events.jsonl").open() as fh:
        try:
            head = json.loads(fh.readline())
        except ValueError:
            return "unknown"
    steer = ((head.get("config") or {}).get("request") or {}).get("steer")
    if not steer:
        return "none"
    terms = ",".join(f"{n}:{a:+g}" for n, a in sorted(steer["terms"].items()))
    layers = steer.get("layers") or []
    return terms + (f" L{layers[0]}-{layers[-1]}" if len(layers) > 1 else f" L{layers[0]}" if layers else "")


def arms_report(c: Cohort, baseline: str = "none", boot: int = BOOT_DRAWS, seed: int = 0) -> dict[str, Any]:
    """Per steering arm: runs with a D1, runs with a D2/D3 (Wilson intervals), mean narrated tone level
    and share of steps at level >= 2 (run bootstrap); each arm's differences from `baseline`."""
    rng = np.random.default_rng(seed)
    labels = [arm_of(Path(p)) if p else "unknown" for p in c.paths]
    et = event_times(c)
    d1, d2 = et.has("d1"), et.has("secondary")
    level = np.where(c.valid, c.level, np.nan)
    with np.errstate(invalid="ignore"):
        mean_level = np.nanmean(level, axis=1)
        share_hot = np.nanmean(np.where(np.isnan(level), np.nan, (level >= 2).astype(float)), axis=1)
    per_run = {"d1": d1.astype(float), "d2d3": d2.astype(float), "mean_level": mean_level, "share_level2": share_hot}
    arms: dict[str, dict[str, Any]] = {}
    for arm in sorted(set(labels)):
        rows = np.array([i for i, lab in enumerate(labels) if lab == arm])
        entry: dict[str, Any] = {"runs": int(rows.size), "steps": int(c.n_steps[rows].sum())}
        for key in ("d1", "d2d3"):
            hits = int(per_run[key][rows].sum())
            entry[key] = {"runs": hits, "share": round(hits / rows.size, 4), "ci": _wilson(hits, rows.size)}
        for key in ("mean_level", "share_level2"):
            x = _present(per_run[key][rows])
            lo, hi = percentile_ci(_boot_means(rng, x, boot))
            entry[key] = {"mean": rnd(float(x.mean())) if x.size else None, "ci": [rnd(lo), rnd(hi)]}
        entry["_rows"] = rows
        arms[arm] = entry
    if baseline in arms:
        base = arms[baseline]["_rows"]
        for arm, entry in arms.items():
            if arm == baseline:
                continue
            diffs = {}
            for key, x in per_run.items():
                a, b = _present(x[entry["_rows"]]), _present(x[base])
                if not (a.size and b.size):
                    continue
                lo, hi = percentile_ci(_boot_means(rng, a, boot) - _boot_means(rng, b, boot))
                diffs[key] = {"difference": rnd(float(a.mean() - b.mean())), "ci": [rnd(lo), rnd(hi)]}
            entry["vs_baseline"] = diffs
    return {"baseline": baseline if baseline in arms else None, "arms": strip_private(arms)}


def _present(x: np.ndarray) -> np.ndarray:
    return x[~np.isnan(x)]


def _boot_means(rng: np.random.Generator, x: np.ndarray, boot: int) -> np.ndarray:
    """Run-bootstrap means of per-run values (empty when there are none)."""
    return x[rng.integers(0, x.size, (boot, x.size))].mean(axis=1) if x.size else np.array([])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.internal")
    p.add_argument("runs", nargs="+", help="run directories, or folders holding them (a batch)")
    p.add_argument("--vector", default="desperate")
    p.add_argument("--part", default="narration", choices=["pre", "narration", "action"])
    p.add_argument("--high", type=float, default=1.0, help="reading (sd) counted as high (default 1)")
    p.add_argument("--k", type=int, default=2, help="consecutive high steps that make the internal onset (default 2)")
    p.add_argument("--against", default="failures_before", choices=["failures_before", "steps_unsolved"],
                   help="consecutive failed test runs seen (default), or steps taken without a pass")
    p.add_argument("--baseline", default="none", help="the steering arm the others are compared with")
    p.add_argument("--control", default="random", help="the control direction reported beside (default random)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    dirs = find_run_dirs(a.runs)
    if not dirs:
        p.error("no run directories found in " + " ".join(a.runs))
    r = summarise(dirs, a.vector, a.part, a.high, against=a.against)
    ci = r["spearman_ci"]
    print(f"{r['runs']} runs, {r['steps']} steps: within-run Spearman of {a.vector} ({a.part}) with "
          f"{a.against} {r['spearman_within_run']:+.2f}" + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")
          + f"; silent steps (>= {a.high:g}, tone 0): {r['silent_steps']} of {r['steps_with_tone']} scored")
    ctrl = summarise(dirs, a.control, a.part, a.high, against=a.against) if a.control else None
    if ctrl and ctrl["steps"]:
        r["control"] = {k: ctrl[k] for k in ("vector", "spearman_within_run", "spearman_ci", "per_run_rho",
                                             "silent_steps")}
        cci = ctrl["spearman_ci"]
        print(f"control {a.control} ({a.part}): {ctrl['spearman_within_run']:+.2f}"
              + (f" [{cci[0]:+.2f}, {cci[1]:+.2f}]" if cci else "")
              + f", 'silent' steps {ctrl['silent_steps']}"
              + " — a direction the model has no reason to move shows how much of the above is context drift")
    cohort = load_cohort(a.runs, run_dirs=dirs, workers=1).cohort
    if cohort.n:
        r["onsets"] = precedence_report(cohort, a.vector, a.part, a.high, a.k, control=a.control)
        r["steering"] = arms_report(cohort, a.baseline)
        for line in _onset_lines(r["onsets"]) + _arm_lines(r["steering"]):
            print(line)
    else:
        print("no scored runs (testbed score RUN…): onsets and steering arms need tone and action scores")
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=2, default=_plain) + "\n")
    return 0


def _plain(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else str(x)


def _onset_lines(o: dict[str, Any]) -> list[str]:
    pair = o["internal_vs_narrated"]
    lines = [f"internal onset in {o['internal_onset_runs']} of {o['runs_with_readings']} runs with readings, "
             f"narrated onset in {o['narrated_onset_runs']}; both in {pair['runs_with_both']}: internal first "
             f"{pair['internal_first']}, same step {pair['same_step']}, narrated first {pair['narrated_first']}"
             + (f" (sign test p {pair['sign_test_p']:.3g})" if pair["sign_test_p"] is not None else "")]
    for label, name in (("d1", "first D1"), ("d2d3", "first D2/D3")):
        for who in ("internal", "narrated"):
            prec = o[label][who]["precedence"]
            if prec.get("estimable"):
                lines.append(f"{who} onset before the {name}: {prec['observed']:.2f} vs failure-matched null "
                             f"{prec['null_mean']:.2f} (p {prec['p']:.3g}, {prec['n_runs']} runs)")
            else:
                lines.append(f"{who} onset before the {name}: not estimable ({prec['reason']})")
        hz = o[label]["hazard_internal"]
        lines.append(f"hazard of the {name} given the internal state at t-1: "
                     + (f"OR {hz['odds_ratio']:.2f} [{hz['ci_low']:.2f}, {hz['ci_high']:.2f}]" if hz.get("estimable")
                        else f"not estimable ({hz['reason']})"))
    ctrl = o.get("control")
    if ctrl:
        prec = ctrl["d1_precedence"]
        lines.append(f"control {ctrl['vector']} onset before the first D1: "
                     + (f"{prec['observed']:.2f} vs null {prec['null_mean']:.2f} (p {prec['p']:.3g})"
                        if prec.get("estimable") else f"not estimable ({prec['reason']})"))
    return lines


def _arm_lines(s: dict[str, Any]) -> list[str]:
    lines = []
    for arm, e in s["arms"].items():
        vs = e.get("vs_baseline", {})
        def diff(key: str) -> str:
            d = vs.get(key)
            return f" (Δ {d['difference']:+.2f} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}])" if d and d["ci"][0] is not None else ""
        lines.append(f"arm {arm}: {e['runs']} runs; D1 {e['d1']['runs']}/{e['runs']}{diff('d1')}, "
                     f"D2/D3 {e['d2d3']['runs']}/{e['runs']}{diff('d2d3')}, mean tone "
                     f"{e['mean_level']['mean'] if e['mean_level']['mean'] is not None else float('nan'):.2f}"
                     f"{diff('mean_level')}")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
