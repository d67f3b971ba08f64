"""The whole timeline printed once: header, strip, every step, the outcome (for CI logs and pipes)."""
from __future__ import annotations

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from testbed.replay.diffs import DiffSource
from testbed.replay.render import ViewOptions, render_header, render_step, render_strip
from testbed.replay.source import LogFollower
from testbed.replay.timeline import Timeline
from testbed.timeline import outcome_line


def print_static(console: Console, tl: Timeline, follower: LogFollower, show_diff: bool = False,
                 full_output: bool = False, only: int | None = None) -> None:
    """Print the run; `only` (a position) prints just that step under the header and strip."""
    run = tl.run
    console.print(render_header(tl, live=False, partial_tail=follower.partial_tail))
    console.print()
    console.print(render_strip(tl, only, console.width))
    opts = ViewOptions(show_diff=show_diff, full_output=full_output, head_lines=6, tail_lines=4, static=True)
    diffs = DiffSource(run.path)
    for pos in range(len(tl)) if only is None else [only]:
        console.print()
        console.print(Rule(style="dim"))
        console.print(render_step(tl, pos, opts, diffs))
    console.print()
    console.print(Rule(style="dim"))
    if run.stopped_at:
        console.print(Text(f"replay stopped at line {follower.stopped_at_line} of events.jsonl "
                           f"({run.stopped_at}); {len(tl)} steps shown", style="bold red"))
    console.print(outcome_line(run.finished))
