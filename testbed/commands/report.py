"""`testbed report DIR… [--json FILE] [--html FILE]` — does frustration come before drastic actions?

DIRs are run directories or folders holding them (searched recursively). The statistics live in
`analysis/`; this module only finds the runs, scores unscored ones when scorers are registered,
and writes the outputs."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

_PROCESS_START = time.perf_counter() - time.process_time()  # roughly when the interpreter started


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="the precedence analysis over run directories",
                       description="Ordering table, precedence and lead time against a trajectory-swap "
                                   "null, the peri-event tone curve, a discrete-time hazard model with "
                                   "run-clustered SEs, a case-time-control check, Holm-corrected "
                                   "secondary tests. See docs/analysis.md.")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run directories or folders containing them")
    p.add_argument("--json", dest="json_out", type=Path, default=None, metavar="FILE",
                   help="write the full result as JSON (stable keys)")
    p.add_argument("--html", dest="html_out", type=Path, default=None, metavar="FILE",
                   help="write a self-contained HTML report with the plots embedded")
    p.add_argument("--per-run", type=Path, default=None, metavar="FILE",
                   help="write the per-run table (onsets, first D1, D2/D3, give-up, censoring, remorse) as CSV")
    p.add_argument("--plots", type=Path, default=None, metavar="DIR", help="also write the PNG plots here")
    p.add_argument("--onset", default=None,
                   help="primary onset definition: consec2 (default), level2, cusum or consecK")
    p.add_argument("--draws", type=int, default=2000, help="swap-null draws (at least 2000; default %(default)s)")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap draws (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the null draws and bootstrap")
    p.add_argument("--ctc-windows", type=int, default=None,
                   help="control windows per run in the case-time-control check (default 10)")
    p.add_argument("--min-events", type=int, default=None, help="fewest events a hazard model needs (default 10)")
    p.add_argument("--tone-source", choices=["text", "max"], default="text",
                   help="tone of the narration text (default) or the max of text and thinking")
    p.add_argument("--no-score", action="store_true",
                   help="never score unscored runs (by default they are scored when tone and action "
                        "scorers are registered)")
    p.add_argument("--strict", action="store_true", help="a run with a bad log line is an error")
    p.add_argument("--include-unfinished", action="store_true",
                   help="count runs that never finished (killed; no run_finished event) as censored at their "
                        "last step instead of leaving them out")
    p.add_argument("--quiet", action="store_true", help="no tables on stdout")
    p.add_argument("--timings", action="store_true", help="print how long each phase took, on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0, cpu0 = time.perf_counter(), time.process_time()
    phases: list[tuple[str, float]] = []

    def phase(name: str) -> None:
        phases.append((name, time.perf_counter(), time.process_time()))

    from rich.console import Console

    from analysis.load import RunReadError, find_run_dirs, load_cohort
    from rich.markup import escape

    from analysis.report import Options, analyze, strip_private
    from testbed.cli import UsageError

    opts = Options(draws=args.draws, boot=args.boot, seed=args.seed)
    if args.onset:
        opts.onset = args.onset
    if args.ctc_windows is not None:
        opts.ctc_windows = args.ctc_windows
    if args.min_events is not None:
        opts.min_events = args.min_events
    try:
        opts.validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for out in (args.json_out, args.html_out, args.per_run):
        if out is not None and not out.parent.is_dir():
            raise UsageError(f"{out}: its folder {out.parent} does not exist")
    try:
        dirs = find_run_dirs(args.dirs)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    if not dirs:
        raise UsageError(f"no run directories (folders with events.jsonl) under {', '.join(args.dirs)}")
    err = Console(stderr=True)
    phase("start")
    try:
        loaded = load_cohort([], strict=args.strict, tone_source=args.tone_source, run_dirs=dirs,
                             include_unfinished=args.include_unfinished)
        scored_now = 0
        if loaded.unscored and not args.no_score:
            scored_now = _score_unscored(loaded.unscored, err)
            if scored_now:
                loaded = load_cohort([], strict=args.strict, tone_source=args.tone_source, run_dirs=dirs,
                                     include_unfinished=args.include_unfinished)
    except RunReadError as exc:
        raise UsageError(str(exc)) from None
    inputs = loaded.inputs()
    inputs["scored_now"] = scored_now
    inputs["unfinished_included"] = bool(args.include_unfinished)
    if loaded.unfinished:
        err.print(f"[yellow]{len(loaded.unfinished)} run(s) never finished and are "
                  + ("counted as censored" if args.include_unfinished else "left out (--include-unfinished counts them)")
                  + f", e.g. {escape(loaded.unfinished[0][0])}: {loaded.unfinished[0][1]}[/]", highlight=False)
    if loaded.excluded:
        err.print(f"[yellow]{len(loaded.excluded)} run(s) could not be read and are left out, e.g. "
                  f"{escape(loaded.excluded[0][1])}[/]", highlight=False)
    if loaded.unscored:
        err.print(f"[yellow]{len(loaded.unscored)} of {loaded.found} run(s) are unscored and left out "
                  f"(e.g. {escape(loaded.unscored[0][0])}: {escape(loaded.unscored[0][1])})[/]", highlight=False)
    phase("read")
    result = analyze(loaded.cohort, inputs, opts)
    if loaded.branches:
        from analysis.interventions import analyze_dirs
        result["interventions"] = analyze_dirs([Path(d) for d in loaded.branches], boot=opts.boot, seed=opts.seed)
    else:
        result["interventions"] = {"estimable": False, "reason": "no continuations (testbed intervene) among the inputs"}
    phase("analyze")
    if not args.quiet:
        from analysis.render import render
        render(result, Console(soft_wrap=False, width=None if sys.stdout.isatty() else 120))
        phase("tables")
    pngs = None
    if args.html_out or args.plots:
        from analysis.plots import all_pngs
        pngs = all_pngs(result)
        phase("plots")
    if args.plots:
        args.plots.mkdir(parents=True, exist_ok=True)
        for name, png in pngs.items():
            (args.plots / f"{name}.png").write_bytes(png)
    if args.html_out:
        from analysis.html import build_html
        _write(args.html_out, build_html(result, pngs or {}))
    if args.json_out:
        _write(args.json_out, json.dumps(strip_private(result), indent=2, sort_keys=False) + "\n")
    if args.per_run:
        from analysis.per_run import per_run_rows, write_csv
        write_csv(per_run_rows(loaded.cohort, primary=opts.onset), args.per_run)
    phase("write")
    for path in (args.json_out, args.html_out, args.per_run):
        if path:
            print(path)
    if args.timings:
        last, last_cpu = t0, cpu0
        parts = []
        for name, t, cpu in phases:
            parts.append(f"{name} {t - last:.2f} s (cpu {cpu - last_cpu:.2f})")
            last, last_cpu = t, cpu
        print(f"testbed report: timings: {', '.join(parts)}; total {last - t0:.2f} s after "
              f"{t0 - _PROCESS_START:.2f} s of start-up", file=sys.stderr)
    return 0


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _score_unscored(unscored: list[tuple[str, str]], err) -> int:
    """Score runs without (complete) scores with the registered tone and action scorers, if any."""
    from testbed.scoring import SCORERS, get_scorers, score_run_dir
    needed = [n for n in ("tone", "actions") if n in SCORERS]
    if len(needed) < 2:
        return 0
    scorers = get_scorers(needed)
    err.print(f"scoring {len(unscored)} unscored run(s) with {', '.join(needed)} …", highlight=False)
    done = 0
    for path, _ in unscored:
        try:
            score_run_dir(path, scorers)
            done += 1
        except Exception as exc:  # a run that cannot be scored stays unscored, and says why
            print(f"testbed report: could not score {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return done
