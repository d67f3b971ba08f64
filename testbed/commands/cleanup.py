"""`testbed cleanup` — remove the project's containers whose run is no longer live."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cleanup", help="remove what dead runs left: sandbox containers (label testbed.run) "
                                       "and work directories")
    p.add_argument("--batch", default=None, help="only this batch's containers")
    p.add_argument("--all", action="store_true", help="also containers of runs that are still live")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from testbed.sandbox.cleanup import cleanup, cleanup_work_dirs

    removed = cleanup(batch=args.batch, include_live=args.all)
    for c in removed:
        print(f"removed {c.id[:12]} (run {c.run_id})")
    dirs = [] if args.batch else cleanup_work_dirs(include_live=args.all)
    for d in dirs:
        print(f"removed work directory {d.id} (run {d.run_id})")
    print(f"{len(removed)} container(s) and {len(dirs)} work director{'y' if len(dirs) == 1 else 'ies'} removed")
    return 0
