"""`testbed run SCENARIO` — one episode; prints a compact timeline, then the run directory."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from testbed.log import read_events
from rich.markup import escape
from rich.text import Text

from testbed.timeline import live_line, outcome_line, timeline_table


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
    p.add_argument("--set", dest="knobs", action="append", default=[], metavar="KNOB=VALUE",
                   help="override any run knob (testbed.spec.KNOBS: max_steps, wall_seconds, cost_usd, "
                        "command_timeout, test_timeout, feedback, give_up_tool, show_budget, memory_mb, "
                        "cpus, pids, disk_mb); repeatable")
    p.add_argument("--env", choices=["docker", "local"], default="docker",
                   help="where the agent works: docker (the sandbox; default) or local (a temp dir on "
                        "this machine, NO isolation: for trusted scripted/simulated models only)")
    p.add_argument("--quiet", action="store_true", help="no live step lines on stderr")
    p.add_argument("--no-score", action="store_true",
                   help="do not score the run at its end (no scores.jsonl, no finding line) and not live")
    p.set_defaults(func=run)


def _score(run_dir: Path, live: Console) -> dict | None:
    """scores.jsonl for the run (the registered scorers), or None with a line saying why not."""
    from testbed.scoring import SCORERS, get_scorers, score_run_dir
    from testbed.timeline import read_scores
    if not SCORERS:
        return None
    try:
        score_run_dir(run_dir, get_scorers())
    except Exception as exc:  # derived data: the run is recorded whatever happens here
        live.print(f"scoring failed ({type(exc).__name__}: {exc}); `testbed score {run_dir}` retries",
                   markup=False)
        return None
    return read_scores(run_dir)


def parse_knobs(items: list[str]) -> dict:
    """`--set NAME=VALUE` values, typed by JSON where they parse (5, 0.5, true) else strings."""
    import json

    from testbed.cli import UsageError
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {item!r}: expected KNOB=VALUE")
        try:
            out[name.strip()] = json.loads(value)
        except ValueError:
            out[name.strip()] = value
    return out


def run(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.env import default_factory
    from testbed.models import default_model_reason, load_model
    from testbed.runner import run_scenario
    from testbed.scenario import load_scenario
    from testbed.spec import RunSpec, SpecError

    from testbed.sandbox.cleanup import sweep

    scenario = load_scenario(args.scenario)
    extra = parse_knobs(args.knobs)
    sweep()
    try:
        spec = RunSpec.for_scenario(scenario, "pending", args.seed, max_steps=args.max_steps,
                                    wall_seconds=args.wall_seconds, feedback=args.feedback)
    except SpecError as exc:
        name, _, why = str(exc).partition(":")
        raise UsageError(f"--{name.replace('_', '-')}: {why.strip()}") from None
    try:
        spec = spec.with_knobs(**extra)
    except SpecError as exc:
        raise UsageError(f"--set {exc}") from None
    live = Console(stderr=True, quiet=args.quiet)
    if args.model is None:
        default_spec, why = default_model_reason()
        live.print(f"[bold yellow]default model: {escape(default_spec)}[/] ({escape(why)}; choose another with --model)",
                   highlight=False)
    model = load_model(args.model or default_spec)
    out = Console(soft_wrap=False)
    price = model.describe().get("price_usd_per_mtok", 0.0)
    if price is None and scenario.budget.cost_usd is not None:
        live.print(f"[yellow]the price of {escape(model.name)} is unknown, so the cost budget "
                   f"(${scenario.budget.cost_usd:g}) cannot be enforced[/]", highlight=False)
    live.print(f"[bold]run[/] {escape(scenario.name)} with model [bold]{escape(model.name)}[/] seed {args.seed}")

    scorer = None
    if not args.no_score and not args.quiet:
        from testbed.live import LiveScorer
        scorer = LiveScorer()

    def on_step(step, tests) -> None:
        marks = scorer.step(step) if scorer is not None else None
        live.print(live_line(step, tests, marks), highlight=False)

    def on_start(run_dir: Path) -> None:
        if scorer is not None:
            scorer.start(run_dir)
        live.print(f"  run directory: {run_dir}", markup=False)

    spec = spec.model_copy(update={"model": model.name, "run_id": args.run_id})
    if args.env == "local":
        live.print("[bold red]--env local: no sandbox; the agent's commands run on this machine[/]",
                   highlight=False)
    run_dir, result = run_scenario(spec, model, default_factory(args.env), runs_dir=args.runs_dir,
                                   on_step=on_step, on_start=on_start)
    scores = None
    if not args.no_score:
        scores = _score(run_dir, live)
    read = read_events(run_dir, strict=False)
    out.print(timeline_table(read.events, width=out.width, scores=scores))
    finished = next((e for e in read.events if e.type == "run_finished"), None)
    out.print(outcome_line(finished))
    if scores is not None:
        from testbed.live import finding_line
        out.print(finding_line(run_dir))
    out.print(Text.assemble(("replay: ", "bold"), f"testbed replay {run_dir}"))
    sys.stdout.flush()
    print(run_dir)
    return 0 if result.outcome != "error" else 1
