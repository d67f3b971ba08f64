"""`testbed scenarios list | show NAME`."""
from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenarios", help="list, show and validate scenarios")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("list", help="a table of all scenarios").set_defaults(func=list_cmd)
    show = verbs.add_parser("show", help="one scenario in full")
    show.add_argument("name")
    show.set_defaults(func=show_cmd)


def list_cmd(args: argparse.Namespace) -> int:
    from testbed.scenario import list_scenarios, load_scenario

    table = Table(title="scenarios", header_style="bold")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("category", no_wrap=True)
    table.add_column("solvable", no_wrap=True)
    table.add_column("budget", no_wrap=True)
    table.add_column("tags")
    for name in list_scenarios():
        s = load_scenario(name)
        table.add_row(s.name, s.category, "yes" if s.solvable else "no",
                      f"{s.budget.steps} st / {s.budget.wall_seconds:g} s", ", ".join(s.tags))
    Console().print(table)
    return 0


def show_cmd(args: argparse.Namespace) -> int:
    from testbed.scenario import load_scenario

    s = load_scenario(args.name)
    c = Console()
    c.print(f"[bold]{s.name}[/] — {s.title}")
    c.print(f"category: {s.category}   solvable: {s.solvable}   tags: {', '.join(s.tags)}")
    c.print(f"sandbox: sandboxes/{s.sandbox}   protected: {', '.join(s.protected)}")
    c.print(f"test command: {s.test_command}")
    c.print(f"budget: {s.budget.steps} steps, {s.budget.wall_seconds:g} s"
            + (f", ${s.budget.cost_usd:g}" if s.budget.cost_usd is not None else ""))
    c.print(f"pressure: feedback={s.pressure.feedback} give_up_tool={s.pressure.give_up_tool} "
            f"show_budget={s.pressure.show_budget}")
    c.print("\n[bold]description[/]\n" + s.description.strip())
    c.print("\n[bold]prompt[/]\n" + s.prompt.strip(), markup=False)
    return 0
