"""`testbed scenarios list | show NAME | validate [NAME…]`."""
from __future__ import annotations

import argparse
import re
import time

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenarios", help="list, show and validate scenarios")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("list", help="a table of all scenarios").set_defaults(func=list_cmd)
    show = verbs.add_parser("show", help="one scenario in full")
    show.add_argument("name")
    show.set_defaults(func=show_cmd)
    validate = verbs.add_parser(
        "validate", help="check scenarios in the real sandbox (exit 1 if any is invalid)",
        description="For each scenario: its patches, the read-only protected paths, that the "
                    "tests fail on the untouched template, and that the reference patch makes "
                    "them pass (solvable) or still fail (impossible); flaky ones must fail and "
                    "pass over seeded runs, reproducibly.")
    validate.add_argument("names", nargs="*", metavar="NAME", help="scenarios (default: all)")
    validate.set_defaults(func=validate_cmd)


def scenario_table(names: list[str] | None = None) -> Table:
    """name (with its tags below), category, solvable, budget: fits 80 columns."""
    from testbed.scenario import ScenarioError, list_scenarios, load_scenario

    names = names if names is not None else list_scenarios()
    table = Table(title="scenarios", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                  leading=1)
    # Names never wrap or get cut; the tags below them wrap within the name's width.
    table.add_column("name · tags", min_width=max((len(n) for n in names), default=4))
    table.add_column("category", no_wrap=True)
    table.add_column("solvable", no_wrap=True)
    table.add_column("budget", no_wrap=True)
    for name in names:
        try:
            s = load_scenario(name)
        except ScenarioError:
            table.add_row(Text(name + "\n", style="bold") + Text("does not load: run validate",
                                                                 style="red"), "?", "?", "?")
            continue
        cell = Text(s.name + "\n", style="bold") + Text(", ".join(s.tags), style="dim")
        solvable = "yes" if s.solvable else "no"
        if s.flaky:
            solvable += "*"
        table.add_row(cell, s.category, solvable,
                      f"{s.budget.steps} steps\n{s.budget.wall_seconds / 60:g} min")
    return table


def list_cmd(args: argparse.Namespace) -> int:
    from testbed.scenario import list_scenarios

    console = Console()
    names = list_scenarios()
    console.print(scenario_table(names))
    if any(_is_flaky(n) for n in names):
        console.print("[dim]* flaky: the protected tests pass on some seeds even before a fix[/]")
    return 0


def _is_flaky(name: str) -> bool:
    from testbed.scenario import ScenarioError, load_scenario
    try:
        return load_scenario(name).flaky
    except ScenarioError:
        return False


def show_cmd(args: argparse.Namespace) -> int:
    from testbed.scenario import load_scenario

    s = load_scenario(args.name)
    c = Console()
    c.print(f"[bold]{s.name}[/] — {s.title}")
    c.print(f"category: {s.category}   solvable: {s.solvable}   tags: {', '.join(s.tags)}")
    if s.variant_of:
        c.print(f"variant of: {s.variant_of} (only the pressure knobs differ)")
    c.print(f"sandbox: sandboxes/{s.sandbox}   protected: {', '.join(s.protected)}")
    c.print(f"test command: {s.test_command}", markup=False)
    c.print(f"budget: {s.budget.steps} steps, {s.budget.wall_seconds:g} s"
            + (f", ${s.budget.cost_usd:g}" if s.budget.cost_usd is not None else ""))
    c.print(f"pressure: feedback={s.pressure.feedback} give_up_tool={s.pressure.give_up_tool} "
            f"show_budget={s.pressure.show_budget}")
    if s.reference_fix:
        kind = "reference fix" if s.solvable else "best-effort patch"
        c.print(f"{kind}: {s.reference_fix}")
    c.print("\n[bold]description[/]")
    c.print(_unwrap(s.description), markup=False)
    c.print("\n[bold]prompt[/]")
    c.print(_unwrap(s.prompt), markup=False)
    return 0


def _unwrap(text: str) -> str:
    """Paragraphs written hard-wrapped in TOML, re-flowed so the console wraps them."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def validate_cmd(args: argparse.Namespace) -> int:
    from testbed.validation import ScenarioReport, validate_names

    console = Console()
    t0 = time.monotonic()

    def show(report: ScenarioReport) -> None:
        mark = "[green]✓[/]" if report.ok else "[red]✗[/]"
        console.print(f"{mark} [bold]{report.name}[/]  [dim]{report.category} · "
                      f"{report.seconds:.1f} s[/]", highlight=False)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=3, justify="right")
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column(overflow="fold")  # the detail wraps under itself
        for check in report.checks:
            grid.add_row(Text("✓", "green") if check.ok else Text("✗", "red"), check.name,
                         Text(check.detail, "" if check.ok else "red"))
        console.print(grid)

    reports = validate_names(list(args.names), on_report=show)
    bad = [r.name for r in reports if not r.ok]
    elapsed = time.monotonic() - t0
    if bad:
        console.print(f"[red bold]{len(bad)} of {len(reports)} scenarios invalid[/]: "
                      f"{', '.join(bad)}  [dim]({elapsed:.0f} s)[/]")
        return 1
    console.print(f"[green bold]all {len(reports)} scenarios valid[/]  [dim]({elapsed:.0f} s)[/]")
    return 0
