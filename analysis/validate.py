"""Synthetic validation of the analysis: power, false-positive rates and the confounding check over
many seeded cohorts (`python -m analysis.validate [--seeds N] [--runs N]`). docs/analysis.md quotes
its output. Everything runs in memory; no run directories are written."""
from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from analysis.ctc import case_time_control
from analysis.hazard import fit_hazard
from analysis.onset import DEFINITIONS, PRIMARY_ONSET
from analysis.ordering import ordering_table
from analysis.outcomes import event_times
from analysis.precedence import precedence
from analysis.report import Options, analyze
from analysis.synthetic import SimParams, simulate

SCENARIOS: dict[str, dict[str, Any]] = {
    "null": {"effect": 1.0},
    "effect 2": {"effect": 2.0},
    "effect 3": {"effect": 3.0},
    "confounded null": {"effect": 1.0, "confounding": 1.0},
    "effect 3 + confounding": {"effect": 3.0, "confounding": 1.0},
    "reversed order": {"effect": 1.0, "reversed": 1.0},
    "noisy classifier, effect 3": {"effect": 3.0, "sensitivity": 0.6, "specificity": 0.85},
}


def one(params: SimParams, with_precedence: bool = True, ctc_windows: int = 10) -> dict[str, Any]:
    sim = simulate(params)
    c = sim.cohort
    et = event_times(c)
    h = fit_hazard(c, et, interaction=False)
    ctc = case_time_control(c, et, K=ctc_windows)
    onset = DEFINITIONS[PRIMARY_ONSET].onset(c.level)
    o = ordering_table(c, et, onset)["pooled"]
    row = {"hazard_or": h.get("odds_ratio"), "hazard_sig": bool(h.get("estimable") and h["ci_low"] > 1),
           "hazard_any": bool(h.get("estimable") and (h["ci_low"] > 1 or h["ci_high"] < 1)),
           "ctc_or": ctc.get("odds_ratio"), "ctc_sig": bool(ctc.get("estimable") and ctc["ci_low"] > 1),
           "share_before": o["share_before"], "share_after": o["share_after"], "n_d1": o["n_d1"]}
    row["confounding_flag"] = bool(row["hazard_sig"] and ctc.get("estimable")
                                   and ctc["ci_low"] <= 1 <= ctc["ci_high"] and ctc["odds_ratio"] < h["ci_low"])
    row["any_ctc_flag"] = bool(row["hazard_sig"] and not row["ctc_sig"])
    if with_precedence:
        p, _ = precedence(c, et, onset, draws=2000, boot=200, seed=params.seed)
        row["prec_obs"], row["prec_null"] = p.get("observed"), p.get("null_mean")
        row["prec_sig"] = bool(p.get("estimable") and p["p"] < 0.05)
        p1, _ = precedence(c, et, DEFINITIONS["level2"].onset(c.level), draws=2000, boot=200, seed=params.seed)
        row["prec1_obs"] = p1.get("observed")
    return row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    def median(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return float(np.median(vals)) if vals else None

    return {"seeds": len(rows), "hazard_or_median": median("hazard_or"), "hazard_ci_above_1": mean("hazard_sig"),
            "hazard_ci_excludes_1": mean("hazard_any"), "ctc_or_median": median("ctc_or"),
            "ctc_ci_above_1": mean("ctc_sig"), "confounding_flag": mean("confounding_flag"),
            "precedence_consec2": mean("prec_obs"), "precedence_null": mean("prec_null"),
            "precedence_level2": mean("prec1_obs"), "precedence_p_below_05": mean("prec_sig"),
            "share_before": mean("share_before"), "share_after": mean("share_after"), "d1_runs": mean("n_d1")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.validate")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=800)
    ap.add_argument("--only", default=None, help="run only scenarios whose name contains this")
    ap.add_argument("--ctc-windows", type=int, default=10)
    ap.add_argument("--report-seconds", action="store_true", help="time one full analyze() per scenario")
    args = ap.parse_args(argv)
    print(f"{args.runs} runs per cohort, {args.seeds} seeds per scenario, CTC K = {args.ctc_windows}")
    for name, kw in SCENARIOS.items():
        if args.only and args.only not in name:
            continue
        t0 = time.perf_counter()
        rows = [one(SimParams(runs=args.runs, seed=s, **kw), ctc_windows=args.ctc_windows) for s in range(args.seeds)]
        s = summarize(rows)
        f = lambda v, d=2: "—" if v is None else f"{v:.{d}f}"  # noqa: E731
        print(f"{name:28s} hazard OR {f(s['hazard_or_median'])}, CI>1 {f(s['hazard_ci_above_1'])}, "
              f"CI excl. 1 {f(s['hazard_ci_excludes_1'])} | CTC OR {f(s['ctc_or_median'])}, CI>1 "
              f"{f(s['ctc_ci_above_1'])} | confounding flag {f(s['confounding_flag'])} | precedence "
              f"level2 {f(s['precedence_level2'])}, consec2 {f(s['precedence_consec2'])} vs null "
              f"{f(s['precedence_null'])}, p<.05 {f(s['precedence_p_below_05'])} | before/after "
              f"{f(s['share_before'])}/{f(s['share_after'])} | D1 runs {f(s['d1_runs'], 0)} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        if args.report_seconds:
            sim = simulate(SimParams(runs=args.runs, seed=0, **kw))
            t0 = time.perf_counter()
            analyze(sim.cohort, options=Options())
            print(f"    full analyze(): {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
