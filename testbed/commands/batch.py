"""`testbed batch FILE.toml` — a resumable matrix of runs with live progress, budgets and cleanup."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="run a matrix of episodes from a batch file (resumable)")
    p.add_argument("file", type=Path, help="batch file (see batches/), or a batch directory to resume")
    p.add_argument("--resume", action="store_true",
                   help="continue the batch in its output directory: finished runs are kept, "
                        "interrupted or crashed ones run again")
    p.add_argument("--concurrency", type=int, default=None, help="runs at once (default: the file's)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="worker processes here, or Ray tasks on a cluster (default: %(default)s)")
    p.add_argument("--address", default=None,
                   help="Ray cluster address (default: start a local Ray on 127.0.0.1)")
    p.add_argument("--output", type=Path, default=None, help="batch directory (default: the file's `output`)")
    p.add_argument("--retry-errors", action="store_true",
                   help="with --resume: also run again the runs that finished with outcome `error`")
    p.add_argument("--no-pool", action="store_true",
                   help="boot each run's sandbox when it starts, not while the worker's previous run goes on")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from testbed.batch.session import (BatchSpecError, BatchStoreError, output_dir, resolve_plan,
                                       run_batch)
    from testbed.cli import UsageError

    if args.retry_errors and not args.resume:
        raise UsageError("--retry-errors only applies with --resume")
    # A summary that goes to a log file keeps its columns instead of squeezing into 80.
    out = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)
    try:
        if args.dry_run:
            plan, found = resolve_plan(args.file)
            _print_plan(plan, output_dir(plan, args.output or found), out)
            return 0
        done = run_batch(args.file, resume=args.resume, concurrency=args.concurrency,
                         executor=args.executor, address=args.address, output=args.output,
                         retry_errors=args.retry_errors, console=out, argv=sys.argv[1:],
                         pool=not args.no_pool)
    except (BatchSpecError, BatchStoreError) as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.flush()
    print(done.out)
    return done.exit_code


def _print_plan(plan, out_dir: Path, console) -> None:
    from rich.table import Table

    from testbed.batch.spec import describe_plan

    d = describe_plan(plan)
    console.print(f"batch [bold]{plan.name}[/]: {d['runs']} run(s) → {out_dir}")
    console.print(f"  scenarios: {', '.join(d['scenarios'])}")
    console.print(f"  models:    {', '.join(d['models'])}"
                  + (f"  (limits: {plan.model_limits})" if plan.model_limits else ""))
    console.print(f"  seeds:     {d['seeds']}")
    console.print(f"  knobs:     {d['knobs'] or 'scenario defaults'}")
    b = plan.spec.budget
    console.print(f"  budget:    per run ${b.run_cost_usd}, {b.run_wall_seconds} s; total ${b.total_cost_usd}, "
                  f"{b.total_wall_seconds} s; concurrency {plan.spec.concurrency}", highlight=False)
    t = Table(header_style="bold", box=None)
    for col in ("#", "run id", "scenario", "model", "seed", "knobs"):
        t.add_column(col, no_wrap=True)
    for r in plan.runs[:50]:
        t.add_row(str(r.position), r.run_id, r.scenario, r.model, str(r.seed),
                  ", ".join(f"{k}={v}" for k, v in r.knobs.items()))
    console.print(t)
    if len(plan.runs) > 50:
        console.print(f"  … and {len(plan.runs) - 50} more")
