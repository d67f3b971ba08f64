"""The end of a batch: a summary table from the index, and the precedence report over its runs."""
from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from testbed.batch.progress import COUNT_STYLE, fmt_cost
from testbed.batch.store import FINISHED, BatchStore

OUTCOME_COLUMNS = ("solved", "gave_up", "budget_exhausted", "error")
OPEN_STATES = ("interrupted", "crashed", "failed", "skipped", "pending", "running")


def summary_data(store: BatchStore) -> dict[str, Any]:
    cells: dict[tuple[str, str], Counter] = defaultdict(Counter)
    steps: dict[tuple[str, str], list[int]] = defaultdict(list)
    cost: dict[tuple[str, str], float] = defaultdict(float)
    unknown: Counter = Counter()
    reasons: Counter = Counter()
    for r in store.rows():
        key = (r["model"], r["scenario"])
        label = r["outcome"] if r["state"] == FINISHED else r["state"]
        cells[key][label] += 1
        if r["state"] == FINISHED:
            steps[key].append(int(r["steps"] or 0))
        elif r["reason"]:
            reasons[(label, r["reason"])] += 1
    for a in store.attempts():
        run = store.row(a["run_id"])
        key = (run["model"], run["scenario"])
        if a["cost_known"]:
            cost[key] += float(a["cost_usd"] or 0.0)
        else:
            unknown[key] += 1
    spent, unknown_total = store.spent()
    return {"cells": cells, "steps": steps, "cost": cost, "unknown": unknown, "reasons": reasons,
            "spent": spent, "unknown_total": unknown_total,
            "totals": sum(cells.values(), Counter())}


COLUMN_TITLES = {"solved": "solved", "gave_up": "gave up", "budget_exhausted": "budget", "error": "error"}


def summary_table(store: BatchStore) -> Table:
    """Per model × scenario: how the runs ended. `budget` is the run's own budget running out;
    `open` counts runs without a final outcome yet (interrupted, crashed, failed, skipped, pending)."""
    d = summary_data(store)
    t = Table(title=f"batch {store.batch_id}", header_style="bold", show_footer=True, pad_edge=False,
              box=box.SIMPLE_HEAD, collapse_padding=True)
    t.add_column("model / scenario", overflow="fold", footer="all", min_width=12)
    totals: Counter = d["totals"]

    def num(title: str, footer: str, style: str = "") -> None:
        t.add_column(title, justify="right", no_wrap=True, min_width=len(title), style=style, footer=footer)

    num("runs", str(sum(totals.values())))
    for col in OUTCOME_COLUMNS:
        num(COLUMN_TITLES[col], str(totals.get(col, 0)), COUNT_STYLE.get(col, ""))
    num("open", str(_open(totals)))
    all_steps = [s for v in d["steps"].values() for s in v]
    num("steps", f"{sum(all_steps) / len(all_steps):.1f}" if all_steps else "–")
    num("cost", _cost(d["spent"], d["unknown_total"]))
    for (model, scenario), c in sorted(d["cells"].items()):
        s = d["steps"][(model, scenario)]
        t.add_row(Text.assemble(model, "\n  ", (scenario, "dim")), str(sum(c.values())), *(str(c.get(col, 0)) for col in OUTCOME_COLUMNS),
                  str(_open(c)), f"{sum(s) / len(s):.1f}" if s else "–",
                  _cost(d["cost"][(model, scenario)], d["unknown"][(model, scenario)]))
    return t


def _open(c: Counter) -> int:
    return sum(c.get(s, 0) for s in OPEN_STATES)


def _cost(usd: float, unknown: int) -> str:
    return fmt_cost(usd) + ("+?" if unknown else "")


def print_summary(store: BatchStore, console: Console) -> dict[str, Any]:
    console.print(summary_table(store))
    d = summary_data(store)
    open_counts = {s: n for s, n in d["totals"].items() if s in OPEN_STATES and n}
    if open_counts:
        console.print("  open: " + ", ".join(f"{n} {s}" for s, n in open_counts.items()), highlight=False)
    for (label, reason), n in sorted(d["reasons"].items(), key=lambda kv: -kv[1])[:12]:
        console.print(Text.assemble(("  " + label, COUNT_STYLE.get(label, "")), f" ×{n}: {reason}"),
                      highlight=False)
    if d["unknown_total"]:
        console.print(f"  +?: {d['unknown_total']} attempt(s) ran on a model without known prices; "
                      "their cost is not in the totals", style="yellow")
    return {"counts": dict(d["totals"]), "cost_usd": round(d["spent"], 6),
            "unknown_cost_attempts": d["unknown_total"]}


# -- the precedence report --------------------------------------------------------------------
def run_report(runs_dir: Path | list[Path], json_path: Path, console: Console) -> str:
    """`testbed report RUNS_DIR --json FILE` through the report verb's own parser. Returns what
    happened in a line; a failing report never fails the batch (the runs are recorded)."""
    from testbed.commands import report as module
    parser = argparse.ArgumentParser(prog="testbed")
    module.register(parser.add_subparsers(dest="command"))
    try:
        dirs = [str(d) for d in (runs_dir if isinstance(runs_dir, list) else [runs_dir])]
        args = parser.parse_args(["report", *dirs, "--json", str(json_path)])
        code = int(args.func(args) or 0)
    except SystemExit as exc:
        return f"the report stopped (exit {exc.code}); run `testbed report {runs_dir}` to see why"
    except Exception as exc:
        return f"the report failed: {type(exc).__name__}: {exc}"
    if code:
        return f"the report ended with status {code}"
    return f"report written to {json_path}"
