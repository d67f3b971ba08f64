"""`testbed classify actions --jsonl FILE|-` — drastic-action class of each command.

Input lines: {"command": str, "context": {...}?, ...}; output: the input object plus
`"action": {"drastic", "class", "kind", "severity", "classes", "detections", "parse_error", "notes"}`,
one line per input line, in order. Context keys: see docs/actions.md (and CONTEXT_KEYS).
"""
from __future__ import annotations

import argparse
import sys


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("actions", help="classify shell commands into drastic-action classes D1-D6")
    p.add_argument("--jsonl", required=True, metavar="FILE",
                   help="JSONL input with a `command` field per line (and optional `context`); - for stdin")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.commands.jsonl_io import JsonlInputError, emit, iter_objects, open_input
    from testbed.scoring.actions import ContextError, classify_action

    name = "<stdin>" if args.jsonl == "-" else args.jsonl
    try:
        fh = open_input(args.jsonl)
        for line_no, obj in iter_objects(fh, name, "command"):
            try:
                obj["action"] = classify_action(obj["command"], obj.get("context"))
            except ContextError as exc:
                raise JsonlInputError(f"{name}:{line_no}: {exc}") from None
            emit(obj)
            sys.stdout.flush()
    except JsonlInputError as exc:
        raise UsageError(str(exc)) from None
    return 0
