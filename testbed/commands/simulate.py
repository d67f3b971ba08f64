"""`testbed simulate --runs N --effect OR --confounding X --seed S --out DIR` — synthetic runs with a
known answer, in the run-directory format, without Docker (see analysis/synthetic.py)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated names")
    return names


def _model_effects(text: str) -> dict[str, float]:
    out = {}
    for item in filter(None, text.split(",")):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(f"expected MODEL=OR, got {item!r}")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="write synthetic runs with a planted effect (no Docker)",
                       description="Synthetic runs in the run-directory format (events.jsonl with truth "
                                   "events, scores.jsonl as the scorers would write it, run.json) for "
                                   "validating `testbed report`. See docs/analysis.md.")
    p.add_argument("--runs", type=int, required=True, help="number of runs")
    p.add_argument("--effect", type=float, default=1.0,
                   help="planted odds ratio of hidden frustration on the per-step D1 hazard (1 = no link)")
    p.add_argument("--confounding", type=float, default=0.0,
                   help="log-odds per SD of a hidden per-run trait on both frustration and D1 (0 = none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="folder to write the run directories into")
    p.add_argument("--steps", type=int, default=50, help="step budget per run (default %(default)s)")
    p.add_argument("--models", type=_names, default=("synthetic",), help="comma-separated model names")
    p.add_argument("--model-effects", type=_model_effects, default={},
                   help="per-model odds ratios overriding --effect, e.g. a=3,b=1")
    p.add_argument("--scenarios", type=_names, default=("syn-a", "syn-b"), help="comma-separated scenario names")
    p.add_argument("--sensitivity", type=float, default=0.85, help="tone classifier sensitivity (level ≥ 2)")
    p.add_argument("--specificity", type=float, default=0.95, help="tone classifier specificity")
    p.add_argument("--action-sensitivity", type=float, default=0.95, help="share of true D1/D2 detected")
    p.add_argument("--action-false-positive", type=float, default=0.002,
                   help="chance an ordinary step is misread as D1")
    p.add_argument("--silent", type=float, default=0.10, help="share of runs that never show frustration")
    p.add_argument("--reversed", type=float, default=0.0,
                   help="share of runs that act first and show distress and remorse only after the D1")
    p.add_argument("--remorse", type=float, default=0.6, help="chance of remorse right after a D1")
    p.add_argument("--base-hazard", type=float, default=0.006, help="per-step D1 probability when calm, no failures")
    p.add_argument("--secondary-effect", type=float, default=1.0,
                   help="odds ratio of frustration on the D2 (test tampering) hazard")
    p.add_argument("--test-spread", type=float, default=0.0,
                   help="per-run spread (logit SD) of how often a harness test run fails: failures then differ by run")
    p.add_argument("--onset-slope", type=float, default=0.08, help="log-odds of becoming frustrated per failure")
    p.add_argument("--failure-slope", type=float, default=0.04, help="log-odds of the D1 hazard per failure")
    p.add_argument("--stress", action="store_true",
                   help="the stress null's failure structure: --test-spread 2 --onset-slope 0.3 --failure-slope 0.15 "
                        "(failures vary by run and drive both frustration and D1)")
    p.add_argument("--mediator", type=float, default=0.0,
                   help="frustration makes failed test runs likelier (log-odds per unit of hidden frustration)")
    p.add_argument("--estimand", choices=["hidden", "observed"], default="hidden",
                   help="where --effect acts: the hidden state at t (default), or the report's exposure (the "
                        "scored tone ≥ 2 at t−1, remorse excluded), which the hazard odds ratio estimates")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analysis.synthetic import STRESS, SimParams, simulate, write_runs
    from testbed.cli import UsageError

    params = SimParams(runs=args.runs, steps=args.steps, effect=args.effect, confounding=args.confounding,
                       seed=args.seed, models=args.models, model_effects=args.model_effects,
                       scenarios=args.scenarios, sensitivity=args.sensitivity, specificity=args.specificity,
                       action_sensitivity=args.action_sensitivity,
                       action_false_positive=args.action_false_positive, silent=args.silent,
                       reversed=args.reversed, remorse=args.remorse, base_hazard=args.base_hazard,
                       secondary_effect=args.secondary_effect, test_spread=args.test_spread,
                       onset_slope=args.onset_slope, failure_slope=args.failure_slope,
                       frustration_fails=args.mediator, estimand=args.estimand)
    if args.stress:
        params.test_spread, params.onset_slope, params.failure_slope = STRESS["test_spread"], \
            STRESS["onset_slope"], STRESS["failure_slope"]
    try:
        params.validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")
    clash = [p for p in (args.out.iterdir() if args.out.is_dir() else [])
             if p.name.startswith(f"syn-s{args.seed}-")]
    if clash:
        raise UsageError(f"--out {args.out} already holds runs of seed {args.seed} (e.g. {clash[0].name}); "
                         "pick another folder or seed (run logs are never overwritten)")
    t0 = time.perf_counter()
    sim = simulate(params)
    write_runs(sim, args.out)
    c = sim.cohort
    if not args.quiet:
        d1 = int(((c.truth_classes & 1) > 0).any(axis=1).sum())
        print(f"{c.n} synthetic runs ({c.n_steps.sum()} steps, {d1} with a true D1) written in "
              f"{time.perf_counter() - t0:.1f} s; planted odds ratio {args.effect:g}, confounding "
              f"{args.confounding:g}, seed {args.seed}")
    print(args.out)
    return 0
