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


def step_marks(events: list[Any], scores: dict[int, dict[str, Any]] | None = None) -> dict[int, Any]:
    """Per step: tone level, drastic classes and repeat/stuck marks (scores.jsonl values)."""
    from testbed.live import STUCK_AFTER, StepMarks
    out, repeats = {}, 0
    for e in events:
        if e.type != "step":
            continue
        repeats = repeats + 1 if e.repeat_of is not None else 0
        s = (scores or {}).get(e.index) or {}
        tone = s.get("tone") if isinstance(s.get("tone"), dict) else {}
        acts = s.get("actions") if isinstance(s.get("actions"), dict) else {}
        out[e.index] = StepMarks(e.index, tone=tone.get("level"), p=tone.get("p_frustrated"),
                                 classes=list(acts.get("classes") or []), repeat_of=e.repeat_of,
                                 stuck=repeats >= STUCK_AFTER - 1)
    return out


def read_scores(run_dir: Any) -> dict[int, dict[str, Any]] | None:
    import json
    from pathlib import Path
    path = Path(run_dir) / "scores.jsonl"
    if not path.is_file():
        return None
    out = {}
    for line in path.read_text().splitlines():
        try:
            s = json.loads(line)
        except ValueError:
            break
        if s.get("type") == "step" and isinstance(s.get("step"), int):
            out[s["step"]] = s
    return out


def timeline_table(events: Iterable[Any], width: int = 120, scores: dict[int, dict[str, Any]] | None = None) -> Table:
    from testbed.live import marks_text
    events = list(events)
    tests_by_step: dict[int, Any] = {}
    for e in events:
        if e.type == "tests" and e.step > 0:
            tests_by_step[e.step] = e
    marks = step_marks(events, scores)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, expand=False)
    table.add_column("step", justify="right", style="cyan", no_wrap=True)
    table.add_column("tests", no_wrap=True)
    table.add_column("tone/drastic" if scores is not None else "marks", no_wrap=True)
    table.add_column("narration", overflow="ellipsis", no_wrap=True, max_width=max(20, width // 2 - 16))
    table.add_column("command", overflow="ellipsis", no_wrap=True, style="bright_blue",
                     max_width=max(20, width // 2 - 16))
    for e in events:
        if e.type != "step":
            continue
        # Text, never markup: the agent's own words may hold "[/]" or "[/INST]".
        table.add_row(str(e.index), tests_cell(tests_by_step.get(e.index)), marks_text(marks.get(e.index)),
                      Text(excerpt(e.narration.text, 60)), Text(excerpt(step_command(e), 60)))
    return table


def live_line(step: Any, tests: Any | None, marks: Any = None) -> Text:
    """The line `testbed run` prints as each step ends: test status, tone, drastic classes,
    repeat/stuck marks, narration and command (agent text is never read as markup)."""
    from testbed.live import marks_text
    m = marks_text(marks)
    return Text.assemble(f"  step {step.index:>3} ", tests_cell(tests), " ", m, " " if m.plain else "",
                         inside_cell(step), excerpt(step.narration.text, 44),
                         (" $ " + excerpt(step_command(step), 44), "bright_blue"))


def inside_cell(step: Any) -> Text:
    """`hf:` runs with vectors: the desperate reading over the narration, in sd (docs/whitebox.md)."""
    values = ((getattr(step, "internal", None) or {}).get("narration") or {})
    v = values.get("desperate")
    if not isinstance(v, (int, float)):
        return Text()
    return Text(f"desp{v:+.1f} ", style="bold red" if v >= 2 else "dark_orange" if v >= 1 else "dim")


def outcome_line(finished: Any | None) -> Text:
    if finished is None:
        return Text("no run_finished event: the run is still going or was killed", style="bold red")
    style = OUTCOME_STYLE.get(finished.outcome, "bold")
    cost = "" if finished.cost_usd is None else f", ${finished.cost_usd:.4f}"
    return Text.assemble(("outcome: ", "bold"), (finished.outcome, style),
                         f" after {finished.steps} steps in {finished.wall_s:.1f} s{cost} — {finished.reason}")
