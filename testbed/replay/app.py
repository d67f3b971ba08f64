"""The interactive replay: a state machine driven by key names, and the terminal loop around it.

`Replay` knows nothing about terminals: it takes keys (`handle`), the passing of time (`tick`) and
new log lines (`refresh`), and renders a screen of a given size. `run_terminal` puts the terminal in
cbreak mode (termios), shows `Replay.render` on the alternate screen through rich's `Live`, reads
keys with `select`, and polls the log for follow mode. Textual is not used: rich renderables plus
a raw key loop are all this needs, and keep one rendering path with the static print-out.
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.segment import Segment
from rich.text import Text

from testbed.log import SCORES_FILE
from testbed.replay.diffs import DiffSource
from testbed.replay.keys import KeyDecoder
from testbed.replay.render import ViewOptions, render_header, render_step, render_strip
from testbed.replay.scores import load_scores
from testbed.replay.source import LogFollower
from testbed.replay.timeline import ONSET_LEVEL, Timeline

SPEEDS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
POLL_S = 0.4
KEY_HELP = [("←→", "step"), ("Home End", ""), ("space", "play"), ("+-", "speed"), ("[]", "drastic"),
            ("o", "onset"), ("r g", "first failing/passing tests"), ("/", "search"), ("n N", "match"),
            (":", "go to"), ("d", "diff"), ("e", "output"), ("↑↓ PgUp PgDn", "scroll"), ("?", "help"), ("q", "quit")]


@dataclass
class ViewState:
    pos: int = 0
    scroll: int = 0
    playing: bool = False
    speed: float = 1.0
    show_diff: bool = False
    full_output: bool = False
    prompt: str | None = None  # "/" (search) or ":" (go to step) while typing
    typed: str = ""
    query: str = ""
    message: str = ""
    follow: bool = True  # at the last step: move on as new steps arrive
    help: bool = False  # the key list instead of the step view
    next_play_at: float = 0.0
    body_height: int = 10
    body_len: int = 0


class Replay:
    def __init__(self, follower: LogFollower, on_the_fly: bool = True, speed: float = 1.0,
                 start_step: int | None = None, show_diff: bool = False, full_output: bool = False):
        self.follower = follower
        self.on_the_fly = on_the_fly
        self._scorers: dict[str, Any] = {}
        self.timeline = Timeline(follower.run, load_scores(follower.run, on_the_fly, self._scorers))
        self.diffs = DiffSource(follower.run.path)
        self.state = ViewState(speed=speed, show_diff=show_diff, full_output=full_output)
        self._body_cache: tuple[Any, list[list[Segment]]] | None = None
        if start_step is None and self.live:
            self._go(len(self.timeline) - 1)  # a run still going opens at its latest step
        elif start_step is not None:
            pos = self.timeline.position_of_step(start_step)
            if pos is None:
                self.state.message = f"no step {start_step} in this run"
            else:
                self._go(pos)
        self.state.follow = self.state.pos >= len(self.timeline) - 1

    @property
    def live(self) -> bool:
        return not self.follower.finished and not self.follower.error

    # --- inputs -----------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Take in new log lines (and a rewritten scores.jsonl); True if the screen changed."""
        new = self.follower.poll() if self.live else []
        scores_path = self.follower.run.path / SCORES_FILE
        mtime = scores_path.stat().st_mtime if scores_path.is_file() else None
        rescore = any(e.type == "step" for e in new) or mtime != self.timeline.scores.file_mtime
        if not new and not rescore:
            return False
        before = len(self.timeline)
        scores = load_scores(self.follower.run, self.on_the_fly, self._scorers) if rescore else None
        self.timeline.rebuild(scores)
        self._body_cache = None
        added = len(self.timeline) - before
        if added > 0 and self.state.follow and not self.state.playing:
            self._go(len(self.timeline) - 1)
            self.state.follow = True
        elif added > 0 and not self.state.playing:
            self.state.message = f"{added} new step{'s' if added > 1 else ''} (End: go to the latest)"
        return True

    def tick(self, now: float) -> bool:
        st = self.state
        if not st.playing or now < st.next_play_at:
            return False
        st.next_play_at = now + 1.0 / st.speed
        if st.pos < len(self.timeline) - 1:
            self._go(st.pos + 1)
            return True
        if not self.live:
            st.playing = False
            st.message = "end of the run"
            return True
        return False  # playing at the tail of a live run: wait for the next step

    def next_tick_in(self, now: float) -> float:
        return max(0.0, self.state.next_play_at - now) if self.state.playing else 3600.0

    def handle(self, key: str) -> bool:
        """Apply one key; False means quit."""
        st = self.state
        st.message = ""
        if st.prompt is not None:
            self._prompt_key(key)
            return True
        n = len(self.timeline)
        tl = self.timeline
        if key in ("q", "Q", "ctrl-c", "ctrl-d"):
            return False
        if key in ("right", "l"):
            if st.pos < n - 1:
                self._go(st.pos + 1)
            else:
                self._say("the last step" + (" so far" if self.live else ""))
        elif key in ("left", "h"):
            if st.pos > 0:
                self._go(st.pos - 1)
            else:
                self._say("the first step")
        elif key == "home":
            self._go(0)
        elif key == "end":
            self._go(n - 1)
        elif key == " ":
            st.playing = not st.playing
            if st.playing and st.pos >= n - 1 and not self.live:
                self._go(0)
            st.next_play_at = time.monotonic() + 1.0 / st.speed
        elif key in ("+", "="):
            st.speed = _next_speed(st.speed, up=True)
            st.message = f"speed {_speed(st.speed)}"
        elif key in ("-", "_"):
            st.speed = _next_speed(st.speed, up=False)
            st.message = f"speed {_speed(st.speed)}"
        elif key in ("]", "["):
            positions, src = tl.drastic_positions()
            target = tl.next_of(positions, st.pos, forward=key == "]")
            if target is None:
                which = "after" if key == "]" else "before"
                self._say(f"no drastic action {which} this step" + ("" if src else " (actions unscored)"))
            else:
                self._go(target, f"drastic action ({src})")
        elif key == "o":
            target, src = tl.onset()
            if target is None:
                self._say(f"no frustration onset (tone never ≥ {ONSET_LEVEL})" if src else
                          "no frustration onset: tone unscored and no ground truth")
            else:
                self._go(target, f"frustration onset ({src}: first tone ≥ {ONSET_LEVEL})")
        elif key in ("r", "g"):
            status = "fail" if key == "r" else "pass"
            target = tl.first_tests(status)
            name = "failing" if key == "r" else "passing"
            if target is None:
                self._say(f"no {name} test run in this run")
            else:
                self._go(target, f"first {name} test run")
        elif key in ("/", ":"):
            st.prompt, st.typed = key, ""
        elif key in ("n", "N"):
            self._search(forward=key == "n")
        elif key == "d":
            st.show_diff = not st.show_diff
            self._body_cache = None
        elif key == "e":
            st.full_output = not st.full_output
            self._body_cache = None
        elif key in ("down", "j"):
            self._scroll(1)
        elif key in ("up", "k"):
            self._scroll(-1)
        elif key == "pgdn":
            self._scroll(max(1, st.body_height - 2))
        elif key == "pgup":
            self._scroll(-max(1, st.body_height - 2))
        elif key == "?":
            st.help = not st.help
            st.scroll = 0
        elif key == "escape":
            st.help = False
        elif key == "ctrl-l":
            self._body_cache = None
        return True

    def _prompt_key(self, key: str) -> None:
        st = self.state
        if key == "enter":
            kind, text = st.prompt, st.typed.strip()
            st.prompt, st.typed = None, ""
            if kind == "/" and text:
                st.query = text
                self._body_cache = None
                self._search(forward=True)
            elif kind == ":" and text:
                self._goto(text)
        elif key in ("escape", "ctrl-c"):
            st.prompt, st.typed = None, ""
        elif key == "backspace":
            st.typed = st.typed[:-1]
        elif key == "ctrl-u":
            st.typed = ""
        elif len(key) == 1 and key.isprintable():
            st.typed += key

    def _search(self, forward: bool) -> None:
        st = self.state
        if not st.query:
            self._say("no search yet: / to search the narration")
            return
        target = self.timeline.search(st.query, st.pos, forward)
        if target is None:
            self._say(f"no narration contains {st.query!r}")
        else:
            wrapped = (target <= st.pos) if forward else (target >= st.pos)
            self._go(target, f"match for {st.query!r}" + (" (wrapped around)" if wrapped else ""))

    def _goto(self, text: str) -> None:
        try:
            index = int(text)
        except ValueError:
            self._say(f"not a step number: {text!r}")
            return
        pos = self.timeline.position_of_step(index)
        if pos is None:
            self._say(f"no step {index} in this run")
        else:
            self._go(pos)

    def _go(self, pos: int, why: str = "") -> None:
        st = self.state
        n = len(self.timeline)
        if n == 0:
            return
        pos = max(0, min(n - 1, pos))
        if pos != st.pos:
            st.scroll = 0
            self._body_cache = None
        st.pos = pos
        st.follow = pos == n - 1
        if why:
            st.message = f"→ step {self.timeline.rows[pos].index}: {why}"

    def _say(self, message: str) -> None:
        self.state.message = message

    def _scroll(self, delta: int) -> None:
        st = self.state
        st.scroll = max(0, min(max(0, st.body_len - st.body_height), st.scroll + delta))

    # --- output -------------------------------------------------------------------------------
    def render(self, console: Console, width: int, height: int) -> "ScreenLines":
        st = self.state
        tl = self.timeline
        opts = console.options.update(width=width, height=None)
        rule = [[Segment("─" * width, console.get_style("dim"))]]
        small, tiny = height < 40, height < 30
        header = console.render_lines(render_header(tl, live=self.live, partial_tail=self.follower.partial_tail,
                                                    compact=small), opts, pad=True)
        strip = console.render_lines(render_strip(tl, st.pos if len(tl) else None, width, legend=not tiny),
                                     opts, pad=True)
        footer = console.render_lines(self._footer(one_line=tiny), opts, pad=True)
        body_h = height - len(header) - len(strip) - len(footer) - 2
        if body_h < 3:  # a small terminal: the header gives way first
            header = header[:max(1, len(header) + body_h - 3)]
            body_h = max(1, height - len(header) - len(strip) - len(footer) - 2)
        body = self._body_lines(console, width)
        st.body_height, st.body_len = body_h, len(body)
        st.scroll = max(0, min(st.scroll, max(0, len(body) - body_h)))
        window = body[st.scroll: st.scroll + body_h]
        if st.scroll > 0 and window:
            window[0] = _note_line(f"↑ {st.scroll} more lines above (↑/PgUp)", width, console)
        below = len(body) - st.scroll - body_h
        if below > 0 and window:
            window[-1] = _note_line(f"↓ {below} more lines below (↓/PgDn)", width, console)
        window += [[Segment(" " * width)]] * (body_h - len(window))
        return ScreenLines(header + rule + strip + rule + window + footer, height, width)

    def _body_lines(self, console: Console, width: int) -> list[list[Segment]]:
        st = self.state
        if st.help:
            return console.render_lines(_help_table(), console.options.update(width=width), pad=True)
        if not len(self.timeline):
            return console.render_lines(Text("no steps recorded yet" + (" — waiting for the first one"
                                                                        if self.live else ""), style="dim"),
                                        console.options.update(width=width), pad=True)
        key = (st.pos, width, st.show_diff, st.full_output, st.query, len(self.timeline))
        if self._body_cache is None or self._body_cache[0] != key:
            opts = ViewOptions(show_diff=st.show_diff, full_output=st.full_output, query=st.query)
            lines = console.render_lines(render_step(self.timeline, st.pos, opts, self.diffs),
                                         console.options.update(width=width, height=None), pad=True)
            self._body_cache = (key, lines)
        return list(self._body_cache[1])

    def _footer(self, one_line: bool = False) -> Group:
        st = self.state
        keys = Text(no_wrap=one_line, overflow="ellipsis")
        if one_line:
            keys.append("? ", style="bold")
            keys.append("all keys  ", style="dim")
        for key, what in KEY_HELP:
            keys.append(key, style="bold")
            keys.append(f" {what}  " if what else "  ", style="dim")
        return Group(keys, self._status())

    def _status(self) -> Text:
        st = self.state
        t = Text()
        if st.prompt is not None:
            t.append("search narration: " if st.prompt == "/" else "go to step: ", style="bold")
            t.append(st.typed)
            t.append("▏", style="blink")
            t.append("   enter: go · esc: cancel", style="dim")
            return t
        t.append("▶ playing" if st.playing else "⏸ paused", style="bold green" if st.playing else "bold")
        t.append(f" {_speed(st.speed)}")
        if self.live:
            t.append(" · following" if st.follow else " · live", style="cyan")
        if st.show_diff:
            t.append(" · diff shown", style="dim")
        if st.query:
            t.append(f" · search {st.query!r}", style="dim")
        if st.message:
            t.append("  " + st.message, style="bold yellow")
        return t


HELP = [("→ l / ← h", "next / previous step"), ("Home / End", "first / last step"),
        ("space", "play / pause (from the start when at the end)"), ("+ / -", "faster / slower"),
        ("] / [", "next / previous drastic action"), ("o", "frustration onset (first tone ≥ 2)"),
        ("r / g", "first failing / first passing harness test run"),
        ("/ text enter", "search narration and thinking"), ("n / N", "next / previous match"),
        (": N enter", "go to step N"), ("d", "show / hide the step's diff (shadow git)"),
        ("e", "whole recorded output instead of head and tail"), ("↓ j / ↑ k, PgDn / PgUp", "scroll the step"),
        ("?", "this list (esc or ? to close)"), ("q, Ctrl-C", "quit")]


def _help_table() -> Table:
    table = Table(title="keys", title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, what in HELP:
        table.add_row(key, what)
    return table


class ScreenLines:
    """Pre-rendered lines, exactly `height` of them, each padded or cropped to `width`."""

    def __init__(self, lines: list[list[Segment]], height: int, width: int):
        self.lines, self.height, self.width = lines[:height], height, width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self.lines + [[Segment(" " * self.width)]] * (self.height - len(self.lines))
        for i, line in enumerate(lines):
            yield from Segment.adjust_line_length(line, self.width)
            if i < len(lines) - 1:
                yield Segment.line()


def _note_line(text: str, width: int, console: Console) -> list[Segment]:
    return console.render_lines(Text(text, style="bold cyan"), console.options.update(width=width),
                                pad=True)[0]


def _speed(s: float) -> str:
    return f"{s:g} step{'s' if s != 1 else ''}/s"


def _next_speed(s: float, up: bool) -> float:
    if up:
        return next((x for x in SPEEDS if x > s), SPEEDS[-1])
    return next((x for x in reversed(SPEEDS) if x < s), SPEEDS[0])


def run_terminal(replay: Replay, console: Console) -> int:
    """Drive `replay` in the terminal until q (or Ctrl-C); return the exit status."""
    import termios
    import tty

    from rich.live import Live

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    decoder = KeyDecoder()
    # A process started in the background (`nohup … &`, some CI shells) inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler: Ctrl-C must still quit the screen.
    saved_sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        tty.setcbreak(fd)
        with Live(console=console, screen=True, auto_refresh=False, redirect_stdout=False,
                  redirect_stderr=False) as live:
            size = None
            dirty = True
            next_poll = 0.0
            while True:
                now = time.monotonic()
                if console.size != size:
                    size, dirty = console.size, True
                if now >= next_poll:
                    dirty |= replay.refresh()
                    next_poll = now + POLL_S
                dirty |= replay.tick(now)
                if dirty:
                    live.update(replay.render(console, size.width, size.height), refresh=True)
                    dirty = False
                timeout = min(max(0.0, next_poll - now), replay.next_tick_in(now), 0.25)
                ready, _, _ = select.select([fd], [], [], timeout)
                if not ready:
                    continue
                data = os.read(fd, 4096)
                if not data:
                    return 0
                keys = decoder.feed(data)
                if decoder.pending() and not select.select([fd], [], [], 0.05)[0]:
                    keys += decoder.flush()
                for key in keys:
                    if not replay.handle(key):
                        return 0
                    dirty = True
    except KeyboardInterrupt:
        return 0
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGINT, saved_sigint)
