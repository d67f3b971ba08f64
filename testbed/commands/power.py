"""`testbed power --effect OR --runs N` (power of the primary test) or `--target 0.8` (runs needed),
from simulated cohorts (analysis/power.py)."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("power", help="power of the primary hazard test, or the runs it needs, by simulation")
    p.add_argument("--effect", type=float, required=True, help="the odds ratio (of the report's exposure)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--runs", type=int, help="cohort size: print the power")
    g.add_argument("--target", type=float, help="target power (e.g. 0.8): print the runs needed")
    p.add_argument("--cohorts", type=int, default=50, help="simulated cohorts per point (default %(default)s)")
    p.add_argument("--steps", type=int, default=50, help="step budget per run (default %(default)s)")
    p.add_argument("--sensitivity", type=float, default=0.85, help="tone scorer sensitivity")
    p.add_argument("--specificity", type=float, default=0.95, help="tone scorer specificity")
    p.add_argument("--base-hazard", type=float, default=0.006, help="per-step D1 probability when calm")
    p.add_argument("--estimand", choices=["observed", "hidden"], default="observed",
                   help="plant the effect on the report's exposure (default) or on the hidden state")
    p.add_argument("--json", dest="json_out", default=None, help="write the result as JSON here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analysis.power import power, runs_for_power
    from testbed.cli import UsageError
    if args.effect <= 0 or (args.runs is not None and args.runs < 10) or args.cohorts < 5:
        raise UsageError("--effect must be > 0, --runs at least 10, --cohorts at least 5")
    if args.target is not None and not 0 < args.target < 1:
        raise UsageError("--target must be between 0 and 1")
    sim = {"steps": args.steps, "sensitivity": args.sensitivity, "specificity": args.specificity,
           "base_hazard": args.base_hazard, "estimand": args.estimand}
    if args.runs is not None:
        r = power(args.effect, args.runs, args.cohorts, **sim)
        print(f"power {r['power']:.2f} (95% CI {r['power_ci'][0]:.2f}–{r['power_ci'][1]:.2f}) to find OR "
              f"{args.effect:g} with {args.runs} runs ({args.cohorts} simulated cohorts; median estimate "
              f"{r['median_or']})")
    else:
        r = runs_for_power(args.effect, args.target, args.cohorts, **sim)
        if r["runs"] is None:
            print(r["reason"])
        else:
            print(f"about {r['runs']} runs give {args.target:.0%} power to find OR {args.effect:g} "
                  f"({args.cohorts} simulated cohorts per point; tried "
                  + ", ".join(f"{t['runs']}: {t['power']:.2f}" for t in r["tried"]) + ")")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(r, fh, indent=1)
    return 0
