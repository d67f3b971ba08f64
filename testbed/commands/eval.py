"""`testbed eval tone|…` — validation reports for the classifiers. Each lives in its own module
listed here."""
from __future__ import annotations

import argparse
import importlib

EVAL_MODULES: list[str] = ["testbed.commands.eval_tone", "testbed.commands.eval_actions"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="validate a classifier on its held-out data")
    verbs = p.add_subparsers(dest="verb", metavar="WHAT", required=True)
    for name in EVAL_MODULES:
        importlib.import_module(name).register(verbs)
