"""`testbed export RUN… --format inspect|atif --out DIR` — our runs as other tools' logs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("inspect", "atif")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write runs as Inspect AI eval logs or ATIF trajectories (Harbor)")
    p.add_argument("runs", nargs="+", help="run directories (or run ids under runs/)")
    p.add_argument("--format", choices=FORMATS, default="inspect",
                   help="inspect: one Inspect `.json` eval log per run; atif: one ATIF v1.4 "
                        "`<run_id>.trajectory.json` per run; our scores ride in their metadata")
    p.add_argument("--out", type=Path, default=Path("exported"), help="folder for the logs (default: exported/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.rundata import RunNotFound, load_run, resolve_run
    if args.format == "atif":
        from testbed.exporters.atif import export_atif as write
    else:
        try:
            from testbed.exporters.inspect_log import export_inspect as write
        except ImportError:
            raise UsageError("exporting Inspect logs needs the optional 'inspect' extra: "
                             "pip install 'testbed[inspect]' (inspect-ai==0.3.285)") from None
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for ref in args.runs:
        try:
            run_data = load_run(resolve_run(ref))
        except (RunNotFound, ValueError, OSError) as exc:
            print(f"testbed export: error: {ref}: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(write(run_data, args.out))
    return 2 if failed else 0
