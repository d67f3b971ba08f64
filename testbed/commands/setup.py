"""`testbed setup` — make sure the Docker engine answers and the base image exists."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="build the sandbox base image if it is missing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from testbed.sandbox.image import ensure_image

    print(ensure_image())
    return 0
