"""`testbed score RUN_DIR…` — (re)compute scores.jsonl from events.jsonl."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="(re)compute scores.jsonl for run directories")
    p.add_argument("runs", nargs="+", help="run directories (or run ids under runs/)")
    p.add_argument("--scorer", action="append", default=None,
                   help="only this scorer (repeatable; default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.rundata import RunNotFound
    from testbed.scoring import get_scorers, score_run_dir

    try:
        scorers = get_scorers(args.scorer)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    failed = 0
    for ref in args.runs:
        try:
            print(score_run_dir(ref, scorers))
        except RunNotFound as exc:
            print(f"testbed score: error: {exc}", file=__import__("sys").stderr)
            failed += 1
    return 2 if failed else 0
