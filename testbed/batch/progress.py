"""The live view of a batch: an overall bar with ETA, one row per worker (what it runs, its step,
the tone of its last step or else the test status, its cost), counts by outcome and the money spent.

On a terminal it redraws in place (rich Live); otherwise (a log file overnight) it prints one line
per event, so the log reads as a history.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from testbed.timeline import OUTCOME_STYLE, excerpt

COUNT_ORDER = ("solved", "gave_up", "budget_exhausted", "error", "interrupted", "crashed", "failed",
               "skipped")
COUNT_STYLE = {**OUTCOME_STYLE, "crashed": "bold red", "failed": "red", "skipped": "dim"}
TONE_STYLE = {0: "green", 1: "yellow", 2: "dark_orange", 3: "bold red"}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_cost(usd: float | None) -> str:
    return "?" if usd is None else f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


@dataclass
class WorkerRow:
    run_id: str
    scenario: str
    model: str
    seed: int
    max_steps: int | None
    started: float = field(default_factory=time.monotonic)
    step: int = 0
    tone: dict[str, Any] | None = None
    tests: dict[str, Any] | None = None
    cost: float | None = 0.0
    host: str = ""


class BatchProgress:
    def __init__(self, console: Console, total: int, slots: int, title: str,
                 cost_budget: float | None = None, live: bool | None = None):
        self.console = console
        self.total = total
        self.slots = slots
        self.title = title
        self.cost_budget = cost_budget
        self.live_mode = console.is_terminal if live is None else live
        self.rows: dict[int, WorkerRow | None] = {i: None for i in range(slots)}
        self.counts: dict[str, int] = {}
        self.done = 0
        self.spent = 0.0
        self.unknown_cost = 0
        self.status = ""
        self.notes: list[str] = []
        self.t0 = time.monotonic()
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=None),
                             MofNCompleteColumn(), TextColumn("{task.fields[eta]}"),
                             console=console, auto_refresh=False, expand=True)
        self._task = self._bar.add_task(title, total=max(total, 1), eta="")
        self._live: Live | None = None
        self._last_draw = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "BatchProgress":
        if self.live_mode:
            self._live = Live(self.render(), console=self.console, auto_refresh=False,
                              redirect_stdout=False, redirect_stderr=False, transient=False)
            self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.stop()
            self._live = None

    def refresh(self, force: bool = False) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if force or now - self._last_draw >= 0.25:
            self._last_draw = now
            self._live.update(self.render(), refresh=True)

    # -- events ------------------------------------------------------------------------------
    def run_started(self, slot: int, run: Any, max_steps: int | None, host: str = "") -> None:
        self.rows[slot] = WorkerRow(run.run_id, run.scenario, run.model, run.seed, max_steps, host=host)
        if not self.live_mode:
            self.console.print(f"start  {run.run_id} (worker {slot}{', ' + host if host else ''})",
                               highlight=False, soft_wrap=True)
        self.refresh()

    def started_on(self, slot: int, run_id: str, host: str | None) -> None:
        row = self.rows.get(slot)
        if row is not None and row.run_id == run_id and host:
            row.host = host

    def step(self, slot: int, msg: Any) -> None:
        """One `StepMsg` (testbed/batch/messages.py) of the run in `slot`."""
        row = self.rows.get(slot)
        if row is None or row.run_id != msg.run_id:
            return
        row.step = msg.index
        row.tone = None if msg.tone is None else msg.tone.model_dump()
        row.tests = row.tests if msg.tests is None else msg.tests.model_dump()
        row.cost = msg.cost_usd
        if msg.host:
            row.host = msg.host
        self.refresh()

    def run_ended(self, slot: int, run_id: str, label: str, detail: str = "") -> None:
        row = self.rows.get(slot)
        if row is not None and row.run_id == run_id:
            self.rows[slot] = None
        self.count(label)
        self.done += 1
        self._bar.update(self._task, completed=self.done, eta=self._eta())
        if not self.live_mode:
            self.console.print(Text.assemble(f"[{self.done}/{self.total}] ", (label, COUNT_STYLE.get(label, "")),
                                             f"  {run_id}", f"  {detail}" if detail else ""),
                               highlight=False, soft_wrap=True)
        self.refresh()

    def count(self, label: str, n: int = 1) -> None:
        self.counts[label] = self.counts.get(label, 0) + n

    def ended_unstarted(self, label: str, n: int) -> None:
        """Runs of this invocation that ended without starting (a broken model or scenario)."""
        if n:
            self.count(label, n)
            self.done += n
            self._bar.update(self._task, completed=self.done)
            self.refresh(force=True)

    def set_cost(self, spent: float, unknown: int) -> None:
        self.spent, self.unknown_cost = spent, unknown

    def set_status(self, text: str) -> None:
        if text != self.status:
            self.status = text
            if not self.live_mode and text:
                self.console.print(Text(text, style="bold yellow"), soft_wrap=True)
            self.refresh(force=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.console.print(Text(text, style="yellow"), highlight=False, soft_wrap=not self.live_mode)
        self.refresh(force=True)

    def _eta(self) -> str:
        elapsed = time.monotonic() - self.t0
        if self.done == 0 or self.total <= self.done:
            return f"elapsed {fmt_duration(elapsed)}"
        eta = elapsed / self.done * (self.total - self.done)
        return f"elapsed {fmt_duration(elapsed)} · ETA {fmt_duration(eta)}"

    # -- rendering ---------------------------------------------------------------------------
    def render(self) -> RenderableType:
        self._bar.update(self._task, eta=self._eta())
        return Group(self._bar.get_renderable(), self.workers_table(), self.counts_line())

    def workers_table(self) -> Table:
        t = Table(box=None, header_style="bold", pad_edge=False, expand=False)
        for col, kw in (("#", {"justify": "right"}), ("scenario", {}), ("model", {}),
                        ("seed", {"justify": "right"}), ("step", {"justify": "right"}),
                        ("tone / tests", {}), ("cost", {"justify": "right"}), ("time", {"justify": "right"})):
            t.add_column(col, no_wrap=True, overflow="ellipsis", **kw)
        for slot in range(self.slots):
            row = self.rows.get(slot)
            if row is None:
                t.add_row(str(slot), Text("idle", style="dim"), "", "", "", "", "", "")
                continue
            step = f"{row.step}/{row.max_steps}" if row.max_steps else str(row.step)
            t.add_row(f"{slot} {excerpt(row.host, 16)}" if row.host else str(slot), excerpt(row.scenario, 30), excerpt(row.model, 28), str(row.seed), step,
                      self.signal_cell(row), fmt_cost(row.cost),
                      fmt_duration(time.monotonic() - row.started))
        return t

    @staticmethod
    def signal_cell(row: WorkerRow) -> Text:
        if row.tone and row.tone.get("level") is not None:
            level = int(row.tone["level"])
            p = row.tone.get("p_frustrated")
            return Text(f"tone {level}" + (f" p={p:.2f}" if isinstance(p, (int, float)) else ""),
                        style=TONE_STYLE.get(level, ""))
        if row.tests:
            if row.tests.get("all_passed"):
                return Text(f"tests ✓ {row.tests.get('passed', 0)}", style="green")
            bad = int(row.tests.get("failed", 0)) + int(row.tests.get("errors", 0))
            return Text(f"tests ✗ {bad}", style="red")
        return Text("·", style="dim")

    def counts_line(self) -> Text:
        parts: list[Any] = []
        for key in COUNT_ORDER + tuple(k for k in self.counts if k not in COUNT_ORDER):
            n = self.counts.get(key, 0)
            if n:
                parts += [(f"{key} {n}", COUNT_STYLE.get(key, "")), "  "]
        if not parts:
            parts = [("no run has ended yet", "dim"), "  "]
        cost = f"cost {fmt_cost(self.spent)}"
        if self.cost_budget is not None:
            cost += f" of {fmt_cost(self.cost_budget)}"
        if self.unknown_cost:
            cost += f" (+{self.unknown_cost} run(s) of unknown cost)"
        line = Text.assemble(*parts, ("│ ", "dim"), cost)
        if self.status:
            line.append(f"  │ {self.status}", style="bold yellow")
        return line
