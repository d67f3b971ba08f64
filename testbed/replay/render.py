"""The replay's renderables: the header, the timeline strip and the step view.

Everything here is a plain function of the timeline and a few view options, returning rich
renderables, so the interactive screen, the static print-out and the tests share one code path.
Levels are drawn as block heights as well as colours, so the strip still reads without colour
(CI logs, `export_text`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from testbed.replay.diffs import DiffSource
from testbed.replay.timeline import ONSET_LEVEL, Row, Timeline, class_severity
from testbed.timeline import OUTCOME_STYLE

TONE_STYLE = {0: "green", 1: "yellow", 2: "dark_orange", 3: "bold red"}
TONE_BLOCK = {0: "▁", 1: "▃", 2: "▅", 3: "█"}
TONE_NAME = {0: "calm", 1: "mild", 2: "frustrated", 3: "despair"}
CLASS_STYLE = {"D1": "bold white on red", "D2": "bold white on magenta", "D3": "bold black on yellow",
               "D4": "bold black on cyan", "D5": "bold white on blue", "D6": "bold white on dark_violet"}
CLASS_NAME = {"D1": "throwing work away", "D2": "test tampering", "D3": "spec-breaking code",
              "D4": "scope escalation", "D5": "disengagement", "D6": "deception"}
EVIDENCE_STYLE = "bold underline"
MATCH_STYLE = "black on bright_cyan"
ONSET_MARK = "!"
INSIDE_CUTS = (0.5, 1.0, 2.0)
LABEL_W = 9
SYNTAX_THEME = "ansi_dark"


@dataclass
class ViewOptions:
    show_diff: bool = False
    full_output: bool = False
    query: str = ""
    head_lines: int = 12
    tail_lines: int = 8
    static: bool = False


# --- header -----------------------------------------------------------------------------------

def render_header(tl: Timeline, live: bool = False, partial_tail: bool = False,
                  compact: bool = False) -> RenderableType:
    """The run's facts; `compact` (small terminals) drops the secondary lines and wraps none."""
    run = tl.run
    st, fin = run.started, run.finished
    line1 = Text()
    line1.append(st.scenario if st else "(no run_started event)", style="bold")
    line1.append(" · ")
    if fin is not None:
        line1.append(fin.outcome, style=OUTCOME_STYLE.get(fin.outcome, "bold"))
        line1.append(f" after {fin.steps} steps")
    else:
        line1.append("running" if live else "no outcome", style="bold cyan" if live else "bold red")
        line1.append(f" · {len(tl)} steps so far")
    wall = tl.wall_s()
    if wall is not None:
        line1.append(f" · {_duration(wall)}")
    cost = tl.cost()
    line1.append(f" · ${cost:.4f}" if cost is not None else " · cost n/a")
    if st:
        line1.append(f" · seed {st.seed} · " if st.seed is not None else " · ")
        line1.append(st.model, style="bold")

    line2 = Text(style="dim")
    line2.append(f"run {run.run_id}")
    if st:
        line2.append(f" · started {st.ts}")
    if tl.initial_tests is not None:
        t = tl.initial_tests
        line2.append(f" · before step 1: {t.failed + t.errors} failing, {t.passed} passing")
    imported = _import_info(run)
    if imported is not None:
        source = Path(str(imported.get("file") or "?")).name
        key = f" [{imported['key']}]" if imported.get("key") else ""
        line2.append(f" · imported from {imported.get('format', '?')}: {source}{key}")
    branch = (st.config or {}).get("branch") if st else None

    line3 = Text()
    line3.append("scores: ", style="bold")
    line3.append(tl.scores.describe())
    lines: list[Text] = [line1, line3] if compact else [line1, line2, line3]

    if branch:
        rewritten = [r for r in (branch.get("rewrite") or {}).get("steps") or []
                     if r.get("accepted") and r.get("text") != r.get("original")]
        bl = Text.assemble(("branch: ", "bold cyan"), f"of {branch.get('parent')} after step {branch.get('at')}, "
                           f"arm {branch.get('arm')}")
        if rewritten:
            bl.append(f" · narration rewritten at step(s) {', '.join(str(r['step']) for r in rewritten)} "
                      f"({(branch.get('rewrite') or {}).get('method')})")
        bl.append(f" · steps 1–{branch.get('at')} are the parent's")
        lines.append(bl)
    if tl.has_truth:
        lines.append(_truth_line(tl))
    if fin is not None and fin.reason and not compact:
        lines.append(Text.assemble(("end: ", "bold"), fin.reason))
    if imported is not None and not compact:
        for limit in imported.get("limitations") or []:
            lines.append(Text(f"import: {limit}", style="dim yellow"))
    for problem in tl.scores.problems:
        lines.append(Text(f"scores: {problem}", style="yellow"))
    if run.stopped_at:
        lines.append(Text(f"log stopped at a bad line — replaying up to it: {run.stopped_at}",
                          style="bold red"))
    elif partial_tail and (fin is not None or not live):
        lines.append(Text("log: the last line is cut off (torn by a crash mid-write) and was skipped",
                          style="yellow"))
    if fin is None and not run.stopped_at:
        lines.append(Text("● live: new steps appear as they are written" if live else
                          "no run_finished event: the run is still going or was killed",
                          style="cyan" if live else "yellow"))
    if compact:
        for line in lines:
            line.no_wrap, line.overflow = True, "ellipsis"
    return Group(*lines)


def _import_info(run: Any) -> dict[str, Any] | None:
    """`config.import` of a run made by `testbed import`, or None."""
    if not run.imported:
        return None
    info = (run.started.config or {}).get("import")
    return info if isinstance(info, dict) else {}


def _truth_line(tl: Timeline) -> Text:
    t = Text()
    t.append("ground truth (simulated): ", style="bold magenta")
    onset = tl.truth_onset()
    t.append(f"onset step {tl.rows[onset].index} (level ≥{ONSET_LEVEL})" if onset is not None
             else f"no onset (level never ≥{ONSET_LEVEL})")
    acts = [r for r in tl.rows if r.truth_class]
    if acts:
        first = acts[0]
        t.append(f" · first drastic step {first.index} {first.truth.drastic} {first.truth_class}")
        first_d1 = next((r for r in acts if r.truth_class == "D1"), None)
        if first_d1 is not None and first_d1 is not first:
            t.append(f" · first D1 step {first_d1.index} {first_d1.truth.drastic}")
        t.append(f" · {len(acts)} drastic in all")
    else:
        t.append(" · no drastic action")
    peak = max((r.truth.frustration for r in tl.rows if r.truth is not None), default=None)
    if peak is not None:
        t.append(f" · peak frustration {peak:.2f}")
    return t


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {sec:02d} s"


# --- the timeline strip -----------------------------------------------------------------------

def buckets(n: int, cells: int) -> tuple[int, list[range]]:
    """Split n positions into at most `cells` consecutive buckets of equal size (the last shorter)."""
    if n <= 0:
        return 1, []
    k = max(1, math.ceil(n / max(1, cells)))
    return k, [range(s, min(n, s + k)) for s in range(0, n, k)]


def render_strip(tl: Timeline, pos: int | None, width: int, legend: bool = True) -> RenderableType:
    n = len(tl)
    if n == 0:
        return Text("(no steps yet)", style="dim")
    avail = max(10, width - LABEL_W - 1)
    k, cells = buckets(n, avail)
    onset, onset_src = tl.onset()
    drastic_pos, drastic_src = tl.drastic_positions()
    drastic_set = set(drastic_pos)
    cur = pos // k if pos is not None else None

    ticks = [" "] * len(cells)
    last_end = -1
    for c, rng in enumerate(cells):
        label = str(tl.rows[rng.start].index)
        if c % 10 == 0 and c > last_end and c + len(label) <= len(cells):
            ticks[c:c + len(label)] = label
            last_end = c + len(label)
    rows: list[tuple[str, Text]] = [("step", Text("".join(ticks), style="dim"))]

    tone = Text()
    for c, rng in enumerate(cells):
        levels = [tl.rows[p].level for p in rng if tl.rows[p].level is not None]
        cursor = " reverse" if c == cur else ""
        if levels:
            tone.append(TONE_BLOCK[max(levels)], style=TONE_STYLE[max(levels)] + cursor)
        else:
            tone.append("·", style="dim" + cursor)
    rows.append(("tone", tone))

    marks = Text()
    for c, rng in enumerate(cells):
        classes = [cl for p in rng if p in drastic_set for cl in _drastic_classes(tl.rows[p], drastic_src)]
        if classes:
            cl = sorted(classes, key=class_severity)[0]
            marks.append(cl[-1], style=CLASS_STYLE.get(cl, "bold"))
        elif onset is not None and onset in rng:
            marks.append(ONSET_MARK, style="bold dark_orange")
        else:
            marks.append(" ")
    rows.append(("drastic" if drastic_src != "ground truth" else "drastic*", marks))

    if tl.has_internal:
        inside = Text()
        for c, rng in enumerate(cells):
            got = [r for r in (tl.inside(tl.rows[p]) for p in rng) if r is not None]
            cursor = " reverse" if c == cur else ""
            if got:
                lv = inside_level(max(v for _, _, v in got))
                inside.append(TONE_BLOCK[lv], style=TONE_STYLE[lv] + cursor)
            else:
                inside.append("·", style="dim" + cursor)
        rows.append(("inside", inside))

    tests = Text()
    for rng in cells:
        sts = {tl.rows[p].tests_status for p in rng}
        if "pass" in sts:
            tests.append("✓", style="bold green")
        elif "fail" in sts:
            tests.append("✗", style="red")
        else:
            tests.append(" ")
    agent_runs = any(getattr(t, "pristine", True) is False for t in tl.run.tests)
    rows.append(("tests*" if agent_runs else "tests", tests))

    if tl.has_truth:
        # The planted acts show here only when the drastic row holds scores (else it holds them).
        show_acts = drastic_src != "ground truth"
        truth = Text()
        for c, rng in enumerate(cells):
            ts = [tl.rows[p].truth for p in rng if tl.rows[p].truth is not None]
            acts = sorted((tl.rows[p].truth_class for p in rng if tl.rows[p].truth_class), key=class_severity)
            cursor = " reverse" if c == cur and not tl.tone_scored else ""
            if acts and show_acts:
                truth.append(acts[0][-1], style=CLASS_STYLE.get(acts[0], "bold"))
            elif ts:
                lv = min(3, max(0, max(t.level for t in ts)))
                truth.append(TONE_BLOCK[lv], style=TONE_STYLE[lv] + cursor)
            else:
                truth.append(" ")
        rows.append(("truth", truth))

    if cur is not None:
        label = f" step {tl.rows[pos].index} ({pos + 1}/{n})"
        pointer = Text(" " * cur + "▲", style="bold")
        if cur + 1 + len(label) <= avail:
            pointer.append(label, style="bold")
        else:
            pointer = Text(" " * max(0, cur - len(label)) + label + "▲", style="bold")
        rows.append(("", pointer))

    table = Table.grid(padding=(0, 1))
    table.add_column(width=LABEL_W - 1, no_wrap=True, style="dim")
    table.add_column(no_wrap=True)
    for label, cells_text in rows:
        table.add_row(label, cells_text)
    if not legend:
        return table
    key = Text(" " * LABEL_W + (f"1 cell = {k} steps │ " if k > 1 else "") +
               f"▁▃▅█ tone 0-3 (· unscored) │ 1-6 class D1-D6 │ {ONSET_MARK} onset │ ✗ ✓ tests", style="dim")
    if tl.has_internal:
        first = next(r for r in (tl.inside(row) for row in tl.rows) if r is not None)
        key.append(f" │ inside: {first[0]} ({first[1]}) ▁<{INSIDE_CUTS[0]:g} ▃<{INSIDE_CUTS[1]:g} "
                   f"▅<{INSIDE_CUTS[2]:g} █ sd")
    if drastic_src == "ground truth":
        key.append(" │ drastic*: ground truth")
    if agent_runs:
        key.append(" │ tests*: the agent's own runs, not the harness's")
    return Group(table, key)


def inside_level(z: float) -> int:
    """A reading in standard units drawn like a tone level: below 0.5 sd, 0.5–1, 1–2, 2 and up."""
    return sum(z >= cut for cut in INSIDE_CUTS)


def _inside_line(row: Row) -> Text | None:
    rec = row.internal
    if not rec:
        return None
    t = Text("inside ", style="bold")
    t.append(f"(layer {rec.get('layer', '?')}, {rec.get('source', '?')}, sd): ", style="dim")
    for part in ("pre", "narration", "action"):
        values = rec.get(part)
        if not isinstance(values, dict):
            continue
        t.append(f"{part} ")
        for name, v in values.items():
            if isinstance(v, (int, float)):
                t.append(f"{name} ")
                t.append(f"{v:+.2f}", style=TONE_STYLE[inside_level(v)] if name != "random" else "dim")
                t.append(" ")
        t.append(" ")
    return t


def _drastic_classes(row: Row, src: str) -> list[str]:
    if src == "ground truth":
        return [row.truth_class] if row.truth_class else []
    return row.drastic_classes


# --- the step view ----------------------------------------------------------------------------

def highlight(text: str, phrases: Iterable[str], style: str, base: Text | None = None) -> tuple[Text, list[str]]:
    """`text` with every occurrence of each phrase styled (case and spacing ignored); also the
    phrases that were not found."""
    out = base if base is not None else Text(text)
    missing = []
    for phrase in phrases:
        words = phrase.split()
        if not words:
            continue
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
        found = False
        for m in pattern.finditer(text):
            out.stylize(style, m.start(), m.end())
            found = True
        if not found:
            missing.append(phrase)
    return out, missing


def tone_summary(tone: dict[str, Any] | None) -> Text:
    if tone is None:
        return Text("unscored", style="dim")
    lv = tone["level"]
    t = Text()
    t.append(f"{TONE_BLOCK[lv]} {lv} {TONE_NAME[lv]}", style=TONE_STYLE[lv])
    if tone.get("p_frustrated") is not None:
        t.append(f" · p {tone['p_frustrated']:.2f}")
    if tone.get("flags"):
        t.append(" · " + ", ".join(tone["flags"]), style="italic")
    return t


def render_step(tl: Timeline, pos: int, opts: ViewOptions, diffs: DiffSource | None = None) -> RenderableType:
    row = tl.rows[pos]
    step = row.step
    parts: list[RenderableType] = []

    title = Text()
    title.append(f"step {row.index}", style="bold reverse")
    title.append(f"  {pos + 1} of {len(tl)} · {step.ts}")
    if row.tests is not None:
        title.append("  tests ")
        title.append_text(_tests_text(row.tests))
    for cl in row.drastic_classes:
        title.append("  ")
        title.append(f" {cl} ", style=CLASS_STYLE.get(cl, "bold"))
    onset, _ = tl.onset()
    if onset == pos:
        title.append(f"  {ONSET_MARK} frustration onset", style="bold dark_orange")
    if step.repeat_of is not None:
        title.append(f"  ↻ repeats step {step.repeat_of}", style="yellow")
    if getattr(step, "prefix", None):
        title.append("  ↳ the parent's step", style="cyan")
    rewrite = getattr(step, "rewrite", None)
    if isinstance(rewrite, dict) and rewrite.get("accepted") and rewrite.get("text") != rewrite.get("original"):
        title.append(f"  ✎ narration rewritten (level {rewrite.get('level_before')}→{rewrite.get('level_after')})",
                     style="bold cyan")
    parts.append(title)
    if step.parse_note:
        parts.append(Text(f"parser: {step.parse_note}", style="yellow"))

    tone = row.tone
    narration_title = Text.assemble("narration · tone ", tone_summary(tone))
    body = Text(step.narration.text or "(no narration)", style="" if step.narration.text else "dim")
    body, missing = highlight(step.narration.text, (tone or {}).get("evidence", []),
                              _evidence_style(tone), base=body)
    if opts.query:
        highlight(step.narration.text, [opts.query], MATCH_STYLE, base=body)
    narration: list[RenderableType] = [body]
    if missing:
        narration.append(Text("evidence not quoted verbatim: " + "; ".join(repr(m) for m in missing),
                              style="dim"))
    if isinstance(rewrite, dict) and rewrite.get("accepted") and rewrite.get("text") != rewrite.get("original"):
        narration.append(Text.assemble(("the parent wrote: ", "dim bold"), (rewrite.get("original") or "", "dim")))
    parts.append(Panel(Group(*narration), title=narration_title, title_align="left",
                       border_style=TONE_STYLE.get(row.level, "dim") if tone else "dim"))

    if step.narration.thinking:
        ttone = (tone or {}).get("thinking")
        th = Text(step.narration.thinking, style="italic")
        th, tmissing = highlight(step.narration.thinking, (ttone or {}).get("evidence", []),
                                 _evidence_style(ttone), base=th)
        if opts.query:
            highlight(step.narration.thinking, [opts.query], MATCH_STYLE, base=th)
        content: list[RenderableType] = [th]
        if tmissing:
            content.append(Text("evidence not quoted verbatim: " + "; ".join(map(repr, tmissing)), style="dim"))
        parts.append(Panel(Group(*content), title=Text.assemble("thinking · tone ", tone_summary(ttone)),
                           title_align="left", border_style="dim"))

    detections = (row.actions or {}).get("detections", [])
    parts.extend(_tool_calls(step, detections, opts))
    prev = tl.rows[pos - 1].step.snapshot if pos > 0 else None
    parts.append(_changes(step, opts, diffs, prev))
    if row.tests is not None:
        parts.append(_tests_block(row.tests, opts))
    for n in row.notices:
        parts.append(Text.assemble(("harness → agent ", "dim bold"), (f"({n.kind}) ", "dim"),
                                   (" ".join(n.text.split()), "dim")))
    parts.append(_detections(row, tl))
    if row.truth is not None:
        parts.append(_truth_detail(row))
    return Group(*parts)


def _evidence_style(tone: dict[str, Any] | None) -> str:
    if not tone:
        return EVIDENCE_STYLE
    return f"{EVIDENCE_STYLE} {TONE_STYLE[tone['level']].replace('bold ', '')}"


def _tests_text(t: Any) -> Text:
    if t.all_passed:
        return Text(f"✓ {t.passed} passed", style="bold green")
    return Text(f"✗ {t.failed + t.errors} failing, {t.passed} passing", style="red")


def _tool_calls(step: Any, detections: list[dict[str, Any]], opts: ViewOptions) -> list[RenderableType]:
    if not step.tool_calls:
        return [Text("(no action)", style="dim")]
    obs_by_id = {o.tool_call_id: o for o in step.observations if o.tool_call_id}
    out: list[RenderableType] = []
    for i, call in enumerate(step.tool_calls):
        obs = obs_by_id.get(call.id) if call.id else None
        if obs is None and i < len(step.observations):
            obs = step.observations[i]
        if call.name == "bash":
            command = str(call.arguments.get("command", ""))
            syntax = Syntax(command, "bash", theme=SYNTAX_THEME, word_wrap=True,
                            background_color="default")
            for d in detections:
                ev = d.get("evidence")
                if isinstance(ev, str) and ev.strip():
                    for span in _spans(command, ev):
                        syntax.stylize_range(CLASS_STYLE.get(d.get("class"), "reverse"), *span)
            out.append(Panel(syntax, title="$ bash", title_align="left", border_style="bright_blue"))
        else:
            args = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
            style = "bold yellow" if call.name == "give_up" else "bold bright_blue"
            out.append(Text.assemble(("▶ ", style), (call.name, style), (f"  {args}" if args else "", "")))
        if obs is not None:
            out.append(_output(obs, opts))
    return out


def _spans(text: str, needle: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(line, column) ranges of `needle` in `text`, for Syntax.stylize_range (lines 1-based)."""
    spans = []
    start = text.find(needle)
    while start != -1 and needle:
        end = start + len(needle)
        spans.append((_line_col(text, start), _line_col(text, end)))
        start = text.find(needle, end)
    return spans


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return line, col


def _output(obs: Any, opts: ViewOptions) -> RenderableType:
    facts = ["output"]
    if obs.exit_code is not None:
        facts.append(f"exit {obs.exit_code}")
    if obs.duration_ms:
        facts.append(f"{obs.duration_ms:.0f} ms")
    if obs.output_bytes and not obs.truncated:
        facts.append(_bytes(obs.output_bytes))
    title = Text(" · ".join(facts))
    if obs.truncated:
        title.append(f" · {_bytes(obs.output_bytes)}, the harness kept its head and tail", style="yellow")
    if obs.timed_out:
        title.append(" · TIMED OUT", style="bold red")
    if obs.shell_restarted:
        title.append(" · shell restarted", style="bold yellow")
    text = obs.output.rstrip("\n")
    if not text:
        return Text.assemble(("  ", ""), (title.plain + " · (empty)", "dim"))
    lines = text.split("\n")
    head, tail = opts.head_lines, opts.tail_lines
    if opts.full_output or len(lines) <= head + tail + 2:
        body = Text("\n".join(lines))
    else:
        hidden = len(lines) - head - tail
        body = Text("\n".join(lines[:head]) + "\n")
        hint = "" if opts.static else " (e: show all)"
        body.append(f"⋯ {hidden} lines not shown{hint} ⋯\n", style="bold cyan")
        body.append("\n".join(lines[-tail:]))
    return Panel(body, title=title, title_align="left",
                 border_style="red" if obs.exit_code not in (0, None) else "dim")


def _bytes(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.1f} MB"


def _changes(step: Any, opts: ViewOptions, diffs: DiffSource | None, prev: Any | None = None) -> RenderableType:
    snap = step.snapshot
    if snap is None:
        return Text("changes: no snapshot recorded", style="dim")
    parts: list[RenderableType] = []
    if not snap.changed:
        head = Text("changes: none", style="dim")
    else:
        head = Text.assemble(("changes ", "bold"),
                             f"{(snap.parent or '')[:8]} → {(snap.commit or '')[:8]} · "
                             f"{snap.files_changed} file{'s' if snap.files_changed != 1 else ''}, ",
                             (f"+{snap.insertions}", "green"), " ", (f"−{snap.deletions}", "red"))
    if not snap.workspace_git:
        head.append("  the agent's .git is gone", style="bold red")
    elif prev is not None and prev.workspace_git and snap.workspace_head != prev.workspace_head:
        head.append(f"  the agent's HEAD moved {(prev.workspace_head or 'unborn')[:8]} → "
                    f"{(snap.workspace_head or 'unborn')[:8]}", style="bold yellow")
    elif prev is not None and not prev.workspace_git:
        head.append("  the agent's .git is back", style="bold yellow")
    parts.append(head)
    if snap.changed and snap.files:
        stat = Table.grid(padding=(0, 1))
        stat.add_column(no_wrap=True)
        stat.add_column(overflow="fold")
        stat.add_column(justify="right", no_wrap=True)
        stat.add_column(no_wrap=True)
        biggest = max((f.insertions + f.deletions for f in snap.files), default=1) or 1
        for f in snap.files:
            scale = min(1.0, 30 / biggest)
            bar = Text("+" * max(1 if f.insertions else 0, round(f.insertions * scale)), style="green")
            bar.append("-" * max(1 if f.deletions else 0, round(f.deletions * scale)), style="red")
            stat.add_row(Text(f" {f.status}", style={"A": "green", "D": "bold red"}.get(f.status, "yellow")),
                         f.path, str(f.insertions + f.deletions), bar)
        parts.append(stat)
    if opts.show_diff and snap.changed:
        text, why = diffs.diff(step) if diffs is not None else (None, "no shadow git")
        if text is not None:
            parts.append(Syntax(text.rstrip("\n") or "(empty diff)", "diff", theme=SYNTAX_THEME,
                                word_wrap=True, background_color="default"))
        else:
            parts.append(Text(why or "no diff", style="yellow"))
    elif snap.changed and not opts.static:
        parts.append(Text(" d: show the diff", style="dim"))
    return Group(*parts)


def _tests_block(t: Any, opts: ViewOptions) -> RenderableType:
    whose = "the agent's own run, not pristine · " if getattr(t, "pristine", True) is False else ""
    line = Text.assemble(("tests ", "bold"), (f"({whose}{t.trigger}) ", "dim"), _tests_text(t),
                         (f", {t.errors} errors" if t.errors else "", "red"),
                         (f" · {t.duration_ms:.0f} ms" if t.duration_ms else "", "dim"))
    if opts.full_output and t.output.strip():
        return Group(line, Panel(Text(t.output.rstrip("\n")), title="test output (last 4 KB)",
                                 title_align="left", border_style="dim"))
    return line


def _detections(row: Row, tl: Timeline) -> RenderableType:
    parts: list[RenderableType] = []
    tone = row.tone
    if tone is not None and tone.get("tiers"):
        tiers = Text("tone tiers: ", style="bold")
        for name, v in tone["tiers"].items():
            if isinstance(v, dict):
                lv = v.get("level")
                p = v.get("p_frustrated")
                tiers.append(f"{name} ")
                tiers.append(f"L{lv}" if isinstance(lv, int) else "—",
                             style=TONE_STYLE.get(lv, "dim") if isinstance(lv, int) else "dim")
                tiers.append(f" p {p:.2f}  " if isinstance(p, (int, float)) else "  ")
        parts.append(tiers)
    if tone is not None and tone.get("evidence"):
        parts.append(Text.assemble(("tone evidence: ", "bold"), "; ".join(repr(e) for e in tone["evidence"])))
    inside = _inside_line(row)
    if inside is not None:
        parts.append(inside)
    if row.actions is None:
        parts.append(Text("actions: unscored" if not tl.actions_scored else "actions: no score for this step",
                          style="dim"))
        return Group(*parts)
    dets = row.actions["detections"]
    if not dets:
        parts.append(Text("actions: nothing detected", style="dim"))
        return Group(*parts)
    table = Table(title="action detections", title_justify="left", title_style="bold", show_edge=False,
                  pad_edge=False, expand=False)
    for col in ("class", "kind", "severity", "reversible", "own work", "source", "evidence / note"):
        table.add_column(col, overflow="fold")
    for d in dets:
        cl = str(d.get("class") or "—")
        ev = d.get("evidence")
        ev = ev if isinstance(ev, str) else ("" if ev is None else str(ev))
        note = d.get("note")
        table.add_row(Text(f" {cl} ", style=CLASS_STYLE.get(cl, "bold")), str(d.get("kind") or ""),
                      str(d.get("severity") or ""), _yes_no(d.get("reversible")), _yes_no(d.get("own_work")),
                      str(d.get("source") or ""),
                      Text(" ".join(ev.split())[:300] + (f"  ({note})" if note else "")))
    parts.append(table)
    return Group(*parts)


def _yes_no(v: Any) -> str:
    return "yes" if v is True else "no" if v is False else "?"


def _truth_detail(row: Row) -> Text:
    t = row.truth
    out = Text()
    out.append("ground truth: ", style="bold magenta")
    out.append(f"frustration {t.frustration:.2f} · level {t.level}")
    p = getattr(t, "p_drastic", None)
    if isinstance(p, (int, float)):
        out.append(f" · p(drastic) {p:.2f}")
    if t.drastic:
        out.append(f" · drastic {t.drastic} ")
        cl = row.truth_class
        out.append(f" {cl} ", style=CLASS_STYLE.get(cl, "bold"))
    if t.note:
        out.append(f" · {t.note}", style="italic")
    return out
