"""`testbed run SCENARIO` — one episode; prints a compact timeline, then the run directory."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from testbed.log import read_events
from testbed.timeline import excerpt, outcome_line, step_command, tests_cell, timeline_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one episode of a scenario")
    p.add_argument("scenario", help="scenario name (see `testbed scenarios list`)")
    p.add_argument("--model", default=None,
                   help="model spec (default: `local`, or a hosted model when its API key is set; see README)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="override the scenario's step budget")
    p.add_argument("--wall-seconds", type=float, default=None,
                   help="override the scenario's wall-clock budget (local CPU models need more)")
    p.add_argument("--runs-dir", type=Path, default=None, help="where run directories go (default: runs/)")
    p.add_argument("--run-id", default=None, help=argparse.SUPPRESS)
    p.add_argument("--feedback", choices=["neutral", "terse", "harsh"], default=None,
                   help="override the scenario's feedback tone")
    p.add_argument("--quiet", action="store_true", help="no live step lines on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.models import default_model_reason, load_model
    from testbed.runner import RunOverrides, run_scenario
    from testbed.scenario import load_scenario

    if args.max_steps is not None and args.max_steps < 1:
        raise UsageError("--max-steps must be at least 1")
    if args.wall_seconds is not None and args.wall_seconds <= 0:
        raise UsageError("--wall-seconds must be positive")
    scenario = load_scenario(args.scenario)
    live = Console(stderr=True, quiet=args.quiet)
    if args.model is None:
        spec, why = default_model_reason()
        live.print(f"[bold yellow]default model: {spec}[/] ({why}; choose another with --model)",
                   highlight=False)
    model = load_model(args.model or spec)
    out = Console(soft_wrap=False)
    price = model.describe().get("price_usd_per_mtok", 0.0)
    if price is None and scenario.budget.cost_usd is not None:
        live.print(f"[yellow]the price of {model.name} is unknown, so the cost budget "
                   f"(${scenario.budget.cost_usd:g}) cannot be enforced[/]", highlight=False)
    live.print(f"[bold]run[/] {scenario.name} with model [bold]{model.name}[/] seed {args.seed}")

    def on_step(step, tests) -> None:
        live.print(f"  step {step.index:>3} ", tests_cell(tests), " ",
                   excerpt(step.narration.text, 50), " [bright_blue]$ ", excerpt(step_command(step), 50),
                   highlight=False, markup=True)

    run_dir, result = run_scenario(scenario, model, seed=args.seed, runs_dir=args.runs_dir,
                                   overrides=RunOverrides(max_steps=args.max_steps, feedback=args.feedback,
                                                          wall_seconds=args.wall_seconds),
                                   run_id=args.run_id, on_step=on_step,
                                   on_start=lambda d: live.print(f"  run directory: {d}"))
    read = read_events(run_dir, strict=False)
    out.print(timeline_table(read.events, width=out.width))
    finished = next((e for e in read.events if e.type == "run_finished"), None)
    out.print(outcome_line(finished))
    sys.stdout.flush()
    print(run_dir)
    return 0 if result.outcome != "error" else 1
