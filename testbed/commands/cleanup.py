"""`testbed cleanup` — remove the project's containers whose run is no longer live."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cleanup", help="remove orphaned sandbox containers (label testbed.run)")
    p.add_argument("--batch", default=None, help="only this batch's containers")
    p.add_argument("--all", action="store_true", help="also containers of runs that are still live")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from testbed.sandbox.cleanup import cleanup

    removed = cleanup(batch=args.batch, include_live=args.all)
    for c in removed:
        print(f"removed {c.id[:12]} (run {c.run_id})")
    print(f"{len(removed)} container(s) removed")
    return 0
