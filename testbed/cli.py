"""`testbed` — the command line. Each verb lives in its own module under testbed/commands/ and
registers itself here; bad input anywhere ends with one clear message and exit status 2."""
from __future__ import annotations

import argparse
import importlib
import sys

from testbed import __version__

COMMAND_MODULES = [
    "testbed.commands.run",
    "testbed.commands.scenarios",
    "testbed.commands.cleanup",
    "testbed.commands.setup",
    "testbed.commands.score",
    "testbed.commands.classify",
    "testbed.commands.import_",
    "testbed.commands.export",
    "testbed.commands.replay",
    "testbed.commands.batch",
    "testbed.commands.simulate",
    "testbed.commands.report",
    "testbed.commands.eval",
    "testbed.commands.intervene",
    "testbed.commands.power",
    "testbed.commands.vectors",
]


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="testbed",
                                     description="A testbed that watches coding agents get frustrated.")
    parser.add_argument("--version", action="version", version=f"testbed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from testbed.models.base import ModelSpecError
    from testbed.scenario import ScenarioError
    from testbed.log import LogError
    from testbed.rundata import RunNotFound
    from testbed.commands.jsonl_io import JsonlInputError
    try:
        return int(args.func(args) or 0)
    except (UsageError, ScenarioError, ModelSpecError, LogError, RunNotFound, JsonlInputError) as exc:
        print(f"testbed {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"testbed {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
