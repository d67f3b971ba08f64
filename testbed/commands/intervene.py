"""`testbed intervene RUN --at K --arms as-is,calm,frustrated[,same-tone] --n N [--horizon M]` —
branch a run at step K, change what the agent said (or the environment), resample what it does."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("intervene", help="branch a run at a step under several arms and compare what follows")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (or run ids under runs/) to branch")
    p.add_argument("--at", required=True,
                   help="branch after this step: a number, a list (3,6), onset (the run's frustration onset) "
                        "or before-d1 (the step before its first D1); the last two from its scores")
    p.add_argument("--arms", default="as-is,calm,frustrated",
                   help="as-is, calm, frustrated, same-tone, or KNOB=VALUE environment arms "
                        "(feedback=harsh, give_up_tool=false); default %(default)s")
    p.add_argument("--n", type=int, default=5, help="continuations per arm and branch point (default %(default)s)")
    p.add_argument("--horizon", type=int, default=10, help="steps after the branch point (default %(default)s)")
    p.add_argument("--rewriter", default="auto",
                   help="how narration is rewritten: simulated, resample (the agent's own model), "
                        "model:SPEC; auto = simulated for simulated runs, else resample")
    p.add_argument("--model", default=None, help="the model of the continuations (default: the parent's)")
    p.add_argument("--out", type=Path, default=None, help="where continuations go (default: beside the parent)")
    p.add_argument("--env", choices=["docker", "local"], default="docker",
                   help="docker (default) or local (NO isolation; trusted scripted/simulated models only)")
    p.add_argument("--json", dest="json_out", type=Path, default=None, help="write the effects as JSON here")
    p.add_argument("--no-score", action="store_true", help="do not score the continuations")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from analysis.interventions import analyze_dirs
    from analysis.render import interventions_table
    from testbed.cli import UsageError
    from testbed.interventions import ContextMismatch, parse_arms, run_intervention
    from testbed.rundata import resolve_run
    from testbed.sandbox.cleanup import sweep

    if args.n < 1 or args.horizon < 1:
        raise UsageError("--n and --horizon must be at least 1")
    try:
        arms = parse_arms(args.arms)
    except ValueError as exc:
        raise UsageError(f"--arms: {exc}") from None
    parents = [resolve_run(r) for r in args.runs]
    sweep()
    err = Console(stderr=True)
    made: list[Path] = []
    for parent in parents:
        out = args.out or parent.parent
        err.print(f"[bold]intervene[/] {escape(str(parent))} at {escape(args.at)}: arms "
                  f"{', '.join(a.name for a in arms)} × {args.n}, horizon {args.horizon} → {escape(str(out))}")

        def on_run(run_dir: Path, result) -> None:
            err.print(f"  {run_dir.name}: {result.outcome} after {result.steps} steps", markup=False)

        try:
            made += run_intervention(parent, args.at, arms, args.n, args.horizon, out, rewriter=args.rewriter,
                                     model=args.model, env=args.env, score=not args.no_score, on_run=on_run)
        except (ValueError, ContextMismatch) as exc:
            raise UsageError(str(exc)) from None
    result = {"interventions": analyze_dirs(made)}
    table = interventions_table(result)
    out_console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 140)
    if table is not None:
        out_console.print(table)
    if args.json_out:
        args.json_out.write_text(json.dumps(result["interventions"], indent=2, default=str))
    for d in made:
        print(d)
    return 0
