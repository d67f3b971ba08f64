"""Synthetic validation of the analysis (`make validate-analysis`, `python -m analysis.validate`):
the false-positive rate of every test the report makes under nulls that failures could fool, the
coverage of the planted odds ratio, power, and the confounding check, over many seeded cohorts.
`--write docs/analysis.md` replaces the table between its markers. The seeds start at 10,000: the
test suite never uses them. Everything runs in memory; no run directories are written.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from analysis.report import Options, analyze
from analysis.synthetic import STRESS, SimParams, simulate

FIRST_SEED = 10_000
BEGIN, END = "<!-- validation:begin -->", "<!-- validation:end -->"

NULLS: dict[str, dict[str, Any]] = {
    "plain null": {"effect": 1.0},
    "stress null (failures differ by run and drive both)": {"effect": 1.0, **STRESS},
}
OTHER: dict[str, dict[str, Any]] = {
    "confounded null (a run-level trait)": {"effect": 1.0, "confounding": 1.0},
    "mediator: frustration causes failures, no direct effect": {"effect": 1.0, **STRESS, "frustration_fails": 1.0},
    "planted OR 3 on the hidden state": {"effect": 3.0},
}
COVERAGE: dict[str, dict[str, Any]] = {
    "OR 3 on the report's exposure": {"effect": 3.0, "estimand": "observed"},
    "OR 1.5 on the report's exposure": {"effect": 1.5, "estimand": "observed"},
}


def reported_tests(r: dict[str, Any]) -> dict[str, bool | None]:
    """Every test of one report: did it reject at α = 0.05 (None: not estimable)?"""
    def ci_excludes(res: dict[str, Any]) -> bool | None:
        if not res.get("estimable"):
            return None
        return res["ci_low"] > 1 or res["ci_high"] < 1

    def p_below(res: dict[str, Any]) -> bool | None:
        return None if not res.get("estimable") or res.get("p") is None else res["p"] < 0.05

    out: dict[str, bool | None] = {"hazard (primary)": ci_excludes(r["hazard"])}
    for k, v in r["hazard_sensitivity"].items():
        out[f"hazard, exposure {k}"] = ci_excludes(v)
    out["hazard, first D2/D3"] = ci_excludes(r["secondary_outcome"])
    for k, v in r["negative_controls"].items():
        out[f"negative control {k.upper()}"] = ci_excludes(v)
    out["precedence (consec2)"] = p_below(r["precedence"])
    for k, v in r["precedence"].get("by_definition", {}).items():
        out[f"precedence ({k})"] = None if not v.get("estimable") else v["p"] < 0.05
    out["lead time"] = p_below(r["lead_time"])
    out["peri-event pre-window"] = p_below(r["peri_event"].get("pre_window") or {})
    out["case-time-control"] = ci_excludes(r["case_time_control"])
    out["marginal structural model"] = ci_excludes(r["msm"])
    return out


def run_scenario(name: str, kw: dict[str, Any], cohorts: int, runs: int, seed0: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    rows = []
    for k in range(cohorts):
        r = analyze(simulate(SimParams(runs=runs, seed=seed0 + k, **kw)).cohort, options=Options())
        rows.append({"tests": reported_tests(r), "hazard": r["hazard"], "msm": r["msm"],
                     "flags": [f["code"] for f in r["flags"]]})
    return {"name": name, "params": kw, "cohorts": cohorts, "runs": runs, "rows": rows,
            "seconds": round(time.perf_counter() - t0, 1)}


def rejection_rates(res: dict[str, Any]) -> dict[str, tuple[float, int]]:
    out: dict[str, list[bool]] = {}
    for row in res["rows"]:
        for k, v in row["tests"].items():
            if v is not None:
                out.setdefault(k, []).append(v)
    return {k: (float(np.mean(v)), len(v)) for k, v in out.items()}


def coverage(res: dict[str, Any], planted: float) -> dict[str, Any]:
    hs = [r["hazard"] for r in res["rows"] if r["hazard"].get("estimable")]
    cover = [h["ci_low"] <= planted <= h["ci_high"] for h in hs]
    return {"coverage": float(np.mean(cover)) if cover else None, "n": len(hs),
            "median_or": float(np.median([h["odds_ratio"] for h in hs])) if hs else None,
            "power": float(np.mean([h["ci_low"] > 1 for h in hs])) if hs else None}


def table(results: dict[str, Any]) -> str:
    lines = []
    nulls = [results[n] for n in NULLS if n in results]
    if nulls:
        tests = list(dict.fromkeys(k for res in nulls for k in rejection_rates(res)))
        lines += ["| test (rejects at α = 0.05) | " + " | ".join(f"{r['name']}: {r['cohorts']} cohorts × {r['runs']} runs"
                                                            for r in nulls) + " |",
                  "|---|" + "---|" * len(nulls)]
        rates = [rejection_rates(r) for r in nulls]
        for t in tests:
            cells = []
            for rr in rates:
                v = rr.get(t)
                cells.append("—" if v is None else f"{v[0]:.3f}" + (f" (of {v[1]})" if v[1] != nulls[0]["cohorts"] else ""))
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
    cov = [(n, results[n]) for n in COVERAGE if n in results]
    if cov:
        lines += ["| planted effect | cohorts × runs | median hazard OR | 95 % CI covers the planted OR | CI above 1 (power) |",
                  "|---|---|---|---|---|"]
        for n, res in cov:
            c = coverage(res, COVERAGE[n]["effect"])
            lines.append(f"| {n} | {res['cohorts']} × {res['runs']} | {c['median_or']:.2f} | {c['coverage']:.3f} | "
                         f"{c['power']:.3f} |")
        lines.append("")
    other = [(n, results[n]) for n in OTHER if n in results]
    if other:
        lines += ["| cohort | cohorts × runs | hazard OR (median) | hazard CI excludes 1 | MSM OR (median) | "
                  "MSM CI excludes 1 | of the significant hazard results: `confounding_suspected` / `unconfirmed_within_runs` |",
                  "|---|---|---|---|---|---|---|"]
        for n, res in other:
            hs = [r["hazard"] for r in res["rows"] if r["hazard"].get("estimable")]
            ms = [r["msm"] for r in res["rows"] if r["msm"].get("estimable")]
            sig = [r for r in res["rows"] if r["hazard"].get("estimable") and r["hazard"]["ci_low"] > 1]
            conf = sum("confounding_suspected" in r["flags"] for r in sig)
            unconf = sum("unconfirmed_within_runs" in r["flags"] for r in sig)
            med = lambda xs: f"{np.median([x['odds_ratio'] for x in xs]):.2f}" if xs else "—"  # noqa: E731
            exc = lambda xs: f"{np.mean([x['ci_low'] > 1 or x['ci_high'] < 1 for x in xs]):.3f}" if xs else "—"  # noqa: E731
            lines.append(f"| {n} | {res['cohorts']} × {res['runs']} | {med(hs)} | {exc(hs)} | {med(ms)} | {exc(ms)} | "
                         + (f"{conf} / {unconf} of {len(sig)}" if sig else "—") + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.validate")
    ap.add_argument("--null-cohorts", type=int, default=200)
    ap.add_argument("--coverage-cohorts", type=int, default=100)
    ap.add_argument("--other-cohorts", type=int, default=40)
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--only", default=None, help="only scenarios whose name contains this")
    ap.add_argument("--write", type=Path, default=None, help="replace the table in this markdown file")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    results: dict[str, Any] = {}
    seed = FIRST_SEED
    for group, cohorts in ((NULLS, args.null_cohorts), (COVERAGE, args.coverage_cohorts), (OTHER, args.other_cohorts)):
        for name, kw in group.items():
            seed += 1000
            if args.only and args.only not in name:
                continue
            res = run_scenario(name, kw, cohorts, args.runs, seed)
            results[name] = res
            print(f"{name}: {res['seconds']} s", flush=True)
    text = table(results)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "rows"} | {
            "rates": rejection_rates(v)} for k, v in results.items()}, indent=1, default=str))
    if args.write:
        doc = args.write.read_text()
        start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        args.write.write_text(doc[:start] + "\n" + text + doc[end:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
