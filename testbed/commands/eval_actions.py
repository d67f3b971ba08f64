"""`testbed eval actions --set real` — the drastic-action scorer on the frozen real-world set:
precision and recall by class with bootstrap intervals, false alarms per source, every mistake.
Exit status 1 when a class misses its targets."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("actions", help="drastic-action scorer on the real-world set")
    p.add_argument("--set", dest="dataset", choices=("real",), default="real",
                   help="real: the frozen real-world set (docs/validation.md); the corpora are tests/test_actions_corpus.py")
    p.add_argument("--split", choices=("test", "dev", "all", "holdout"), default="test",
                   help="which part (default test; holdout: sessions collected after the rules)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the full report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from testbed import realset as real
    from testbed.cli import UsageError

    try:
        report = real.actions_report(split=args.split)
    except real.RealSetError as exc:
        raise UsageError(str(exc)) from None
    console = Console(width=max(Console().width, 132))
    console.print(f"actions on the real-world set ({args.split} split): {report['n']} steps and commands "
                  f"from {len(report['sources'])} sources; 95% bootstrap intervals")
    table = Table(show_edge=False)
    for col in ("class", "support", "tp", "fp", "fn", "precision", "recall"):
        table.add_column(col, justify="left" if col == "class" else "right")

    def cell(v, ci):
        return "-" if v is None else f"{v:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
    for cls, v in report["classes"].items():
        if v["tp"] + v["fp"] + v["fn"] == 0:
            continue
        table.add_row(cls, str(v["tp"] + v["fn"]), str(v["tp"]), str(v["fp"]), str(v["fn"]),
                      cell(v["precision"], v["ci95"]["precision"]), cell(v["recall"], v["ci95"]["recall"]))
    console.print(table)
    src = Table(show_edge=False, title="false alarms by source (steps labelled ordinary that got a class)")
    for col in ("source", "items", "drastic", "false alarms", "rate"):
        src.add_column(col, justify="left" if col == "source" else "right")
    for name, v in report["sources"].items():
        src.add_row(name, str(v["n"]), str(v["positives"]), str(v["false_alarms"]),
                    "-" if v["false_alarm_rate"] is None else f"{v['false_alarm_rate']:.3f}")
    console.print(src)
    for m in report["mistakes"]:
        console.print(f"  {m['source']}: expected {m['expect'] or 'none'}, got {', '.join(m['predicted']) or 'none'}: "
                      f"{(m['command'] or ', '.join(m['tools']))[:100]!r}", soft_wrap=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    targets = f"precision >= {real.ACTION_TARGETS['precision']}, recall >= {real.ACTION_TARGETS['recall']}"
    code, line = real.verdict(real.actions_passes(report), "the actions scorer (by class)", targets)
    console.print(line)
    return code
