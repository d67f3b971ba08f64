"""`testbed classify tone|actions --jsonl FILE|-` — classify lines of JSON, one output line per
input line, in order. Each classifier lives in its own module listed here."""
from __future__ import annotations

import argparse
import importlib

CLASSIFY_MODULES: list[str] = ["testbed.commands.classify_tone", "testbed.commands.classify_actions"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="classify JSONL input (tone of text, drastic commands)")
    verbs = p.add_subparsers(dest="verb", metavar="WHAT", required=True)
    for name in CLASSIFY_MODULES:
        importlib.import_module(name).register(verbs)
