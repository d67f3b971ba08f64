"""`testbed replay RUN [--static]` — review a run's timeline in the terminal (see docs/replay.md)."""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="review a run's timeline: interactive, or printed once with --static")
    p.add_argument("run", help="a run directory, or a run id (or a unique part of one) under runs/")
    p.add_argument("--static", action="store_true",
                   help="print the whole timeline once and exit (the default without a terminal)")
    p.add_argument("--step", type=int, default=None,
                   help="open at this step (--static: print only this step, under the header and strip)")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed in steps per second")
    p.add_argument("--diff", action="store_true", help="show each step's diff (interactive: toggle with d)")
    p.add_argument("--full-output", action="store_true",
                   help="whole recorded outputs instead of their head and tail (interactive: toggle with e)")
    p.add_argument("--no-score", action="store_true",
                   help="do not score on the fly when the run has no scores.jsonl")
    p.add_argument("--width", type=int, default=None, help="--static: line width (default: the terminal's)")
    p.add_argument("--color", action="store_true", help="--static: colour even when piped (for less -R)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from testbed.cli import UsageError
    from testbed.replay.app import Replay, run_terminal
    from testbed.replay.scores import load_scores
    from testbed.replay.source import open_run
    from testbed.replay.static import print_static
    from testbed.replay.timeline import Timeline

    if not 0 < args.speed <= 100:
        raise UsageError("--speed must be between 0 and 100 steps per second")
    if args.width is not None and args.width < 40:
        raise UsageError("--width must be at least 40")
    follower = open_run(args.run)
    if follower.run.started is None and not follower.run.events and follower.error:
        raise UsageError(f"{follower.error} (no event could be read)")
    if args.step is not None and all(s.index != args.step for s in follower.run.steps):
        have = follower.run.steps
        span = f"steps {have[0].index}-{have[-1].index}" if have else "no steps yet"
        raise UsageError(f"--step {args.step}: the run has no such step ({span})")
    interactive = not args.static and sys.stdin.isatty() and sys.stdout.isatty()
    if not interactive:
        console = Console(width=args.width, force_terminal=True if args.color else None, soft_wrap=False)
        timeline = Timeline(follower.run, load_scores(follower.run, on_the_fly=not args.no_score))
        only = timeline.position_of_step(args.step) if args.step is not None else None
        print_static(console, timeline, follower, show_diff=args.diff, full_output=args.full_output, only=only)
        return 0
    replay = Replay(follower, on_the_fly=not args.no_score, speed=args.speed, start_step=args.step,
                    show_diff=args.diff, full_output=args.full_output)
    return run_terminal(replay, Console())
