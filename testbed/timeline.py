"""The compact timeline `testbed run` prints: one row per step."""
from __future__ import annotations

from typing import Any, Iterable

from rich.table import Table
from rich.text import Text

OUTCOME_STYLE = {"solved": "bold green", "gave_up": "bold yellow", "budget_exhausted": "bold magenta",
                 "error": "bold red", "interrupted": "bold red", "submitted": "bold cyan",
                 "unknown": "bold"}


def excerpt(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def step_command(step: Any) -> str:
    parts = []
    for call in step.tool_calls:
        if call.name == "bash":
            parts.append(str(call.arguments.get("command", "")))
        else:
            parts.append(f"<{call.name}>")
    return " ; ".join(parts) if parts else "(no action)"


def tests_cell(tests: Any | None) -> Text:
    if tests is None:
        return Text("·", style="dim")
    if tests.all_passed:
        return Text(f"✓ {tests.passed}", style="green")
    return Text(f"✗ {tests.failed + tests.errors}", style="red")


def timeline_table(events: Iterable[Any], width: int = 120) -> Table:
    events = list(events)
    tests_by_step: dict[int, Any] = {}
    for e in events:
        if e.type == "tests" and e.step > 0:
            tests_by_step[e.step] = e
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, expand=False)
    table.add_column("step", justify="right", style="cyan", no_wrap=True)
    table.add_column("tests", no_wrap=True)
    table.add_column("narration", overflow="ellipsis", no_wrap=True, max_width=max(20, width // 2 - 10))
    table.add_column("command", overflow="ellipsis", no_wrap=True, style="bright_blue",
                     max_width=max(20, width // 2 - 10))
    for e in events:
        if e.type != "step":
            continue
        flags = " ↻" if e.repeat_of is not None else ""
        # Text, never markup: the agent's own words may hold "[/]" or "[/INST]".
        table.add_row(str(e.index), tests_cell(tests_by_step.get(e.index)),
                      Text(excerpt(e.narration.text, 60) + flags), Text(excerpt(step_command(e), 60)))
    return table


def live_line(step: Any, tests: Any | None) -> Text:
    """The line `testbed run` prints as each step ends (agent text is never read as markup)."""
    return Text.assemble(f"  step {step.index:>3} ", tests_cell(tests), " ", excerpt(step.narration.text, 50),
                         (" $ " + excerpt(step_command(step), 50), "bright_blue"))


def outcome_line(finished: Any | None) -> Text:
    if finished is None:
        return Text("no run_finished event: the run is still going or was killed", style="bold red")
    style = OUTCOME_STYLE.get(finished.outcome, "bold")
    cost = "" if finished.cost_usd is None else f", ${finished.cost_usd:.4f}"
    return Text.assemble(("outcome: ", "bold"), (finished.outcome, style),
                         f" after {finished.steps} steps in {finished.wall_s:.1f} s{cost} — {finished.reason}")
