"""`testbed setup` — make sure the Docker engine answers, the base image exists and the tone
classifier's models are built (first time only: they are cached under .models/)."""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="build the sandbox base image and the tone models if missing")
    p.add_argument("--no-tone", action="store_true", help="skip building the tone classifier's models")
    p.add_argument("--tone-only", action="store_true", help="only build the tone classifier's models")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from testbed.sandbox.image import ensure_image

    if not args.tone_only:
        print(ensure_image())
    if not args.no_tone:
        from testbed.scoring.tone.classifier import ToneClassifier
        described = ToneClassifier().describe()
        print(f"tone classifier ready: {'+'.join(described.get('ensemble', []))}", file=sys.stderr)
    return 0
