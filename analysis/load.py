"""Reading run directories fast: events.jsonl and scores.jsonl parsed with `json`, no validation
models, only the fields the statistics need.

A run is *usable* when its scores.jsonl has a step line, with `tone` and `actions`, for every step
event in events.jsonl. Runs without scores, with scores from an older, shorter log, or without one
of the two scorers are *unscored* and left out (the report says how many). A run whose log has a
bad line (other than a torn last line, the mark of a crash mid-write) is *excluded* with the reason;
`strict=True` makes that an error instead.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from analysis.cohort import CLASS_BITS, Cohort, RunRecord, class_mask
from testbed import eventlines
from testbed.eventlines import EVENT_TYPES, header_error

EVENTS_FILE = "events.jsonl"
SCORES_FILE = "scores.jsonl"
TONE_SOURCES = ("text", "max")


class RunReadError(ValueError):
    """A run directory that cannot be read (a bad line in its log), with the place."""


@dataclass
class LoadResult:
    cohort: Cohort
    found: int
    unscored: list[tuple[str, str]] = field(default_factory=list)   # (path, why)
    excluded: list[tuple[str, str]] = field(default_factory=list)   # (path, why)
    # Runs with no run_finished event: their process was killed (or they are still going). They
    # are not censored at their last step unless asked: a killed run's last step is not a budget.
    unfinished: list[tuple[str, str]] = field(default_factory=list)
    # Continuations made by `testbed intervene` (run_started.config.branch): they repeat their
    # parent's steps, so they are analysed apart (analysis/interventions.py), never in the cohort.
    branches: list[str] = field(default_factory=list)
    steps_missing_tone: int = 0
    steps_missing_actions: int = 0
    torn_tails: int = 0

    def inputs(self) -> dict[str, Any]:
        return {"runs_found": self.found, "runs_scored": self.cohort.n,
                "runs_unscored": len(self.unscored), "runs_excluded": len(self.excluded),
                "runs_unfinished": len(self.unfinished), "runs_branched": len(self.branches),
                "unfinished": [{"path": p, "reason": r} for p, r in self.unfinished[:50]],
                "unscored": [{"path": p, "reason": r} for p, r in self.unscored[:50]],
                "excluded": [{"path": p, "reason": r} for p, r in self.excluded[:50]],
                "steps_missing_tone": self.steps_missing_tone,
                "steps_missing_actions": self.steps_missing_actions,
                "torn_tails": self.torn_tails}


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories named directly or found anywhere below the given folders (a directory
    holding events.jsonl is a run; nothing below a run is searched)."""
    found: list[Path] = []
    seen: set[Path] = set()
    for ref in paths:
        root = Path(ref)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such file or directory")
        if root.is_file():
            if root.name != EVENTS_FILE:
                raise FileNotFoundError(f"{root}: not a run directory or a folder of runs")
            root = root.parent
        for d in _walk_runs(root):
            key = d.resolve()
            if key not in seen:
                seen.add(key)
                found.append(d)
    return found


def _walk_runs(root: Path) -> Iterator[Path]:
    if (root / EVENTS_FILE).is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        if EVENTS_FILE in filenames and Path(dirpath) != root:
            dirnames[:] = []
            yield Path(dirpath)
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "shadow.git")


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    data = path.read_bytes()
    if not data:
        return
    lines = data.split(b"\n")
    unterminated = not data.endswith(b"\n")
    if not unterminated:
        lines.pop()
    last = len(lines)
    for no, raw in enumerate(lines, 1):
        yield no, raw, unterminated and no == last


# A step line as testbed.log writes it (pydantic's compact JSON, fields in declaration order:
# v, run_id, seq, ts, type, ...): its index can be read after the head without parsing the narration
# and tool outputs, which are most of a log's bytes; likewise the counts of a harness test run
# without its output excerpt. A raw `","seq":` or `","type":"` cannot occur inside a JSON string
# (its quotes would be escaped), so plain `find` locates the fields. Lines written any other way
# are parsed in full.
_STEP_TAIL = re.compile(r'"index":(-?\d+)[,}]')
_TESTS_TAIL = re.compile(r'"step":(-?\d+),"trigger":"([a-z_]*)","passed":\d+,"failed":\d+,"errors":\d+,'
                         r'"all_passed":(true|false)[,}]')


def _head_type(line: str) -> tuple[str | None, int]:
    """(event type, position of the next field) for a line in testbed.log's layout, else (None, 0)."""
    if not line.startswith('{"v":'):
        return None, 0
    i = line.find(',"run_id":"', 5)
    if i < 0 or not line[5:i].isdigit():
        return None, 0
    j = line.find('","seq":', i + 11)
    k = line.find(',"ts":"', j + 8) if j >= 0 else -1
    if k < 0 or not line[j + 8:k].isdigit():
        return None, 0
    m = line.find('","type":"', k + 7)
    e = line.find('"', m + 10) if m >= 0 else -1
    if e < 0:
        return None, 0
    return line[m + 10:e], e + 2


def _objects(path: Path, by_prefix: bool = False, check_header: bool = False
             ) -> tuple[list[dict[str, Any]], bool, tuple[list[int], list[int]] | None]:
    """(JSON objects, torn tail?, (step indices, steps of failed test runs) read from prefixes).

    The lines are parsed in one call as a JSON array (a per-line `json.loads` costs several times
    more for 50-step logs); only when that fails is the file parsed line by line, to skip a torn
    final line or name the bad one. With `by_prefix`, complete step and tests lines in testbed.log's
    own layout are not parsed: what the analysis needs is read from their prefix."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
        lines = text.split("\n")
        terminated = text.endswith("\n")
        if terminated:
            lines.pop()
        found: tuple[list[int], list[int]] | None = None
        if by_prefix:
            steps: list[int] = []
            failed: list[int] = []
            rest = []
            last = -1 if terminated else len(lines) - 1
            step_match, tests_match = _STEP_TAIL.match, _TESTS_TAIL.match
            for k, line in enumerate(lines):
                kind, pos = _head_type(line) if k != last and line.endswith("}") else (None, 0)
                m = (step_match(line, pos) if kind == "step" else
                     tests_match(line, pos) if kind == "tests" else None)
                if m is None:
                    rest.append(line)
                elif kind == "step":
                    steps.append(int(m.group(1)))
                elif m.group(2) != "initial" and m.group(3) == "false":
                    failed.append(int(m.group(1)))
            lines = rest
            found = (steps, failed)
        lines = [line for line in lines if line.strip()]
        out = json.loads("[" + ",".join(lines) + "]")
        # a count mismatch means two broken lines merged into one object: find them line by line
        if len(out) == len(lines) and (not check_header or all(header_error(o) is None for o in out)):
            if check_header:
                out = [o for o in out if o["type"] in EVENT_TYPES]  # newer types: skipped
            return out, False, found
    except ValueError:
        pass
    out, torn = _objects_slow(path, check_header)
    return out, torn, None


def _objects_slow(path: Path, events: bool = False) -> tuple[list[dict[str, Any]], bool]:
    """Line by line, with testbed.eventlines's rules for event logs (the one definition of a bad
    line that every reader shares)."""
    out = []
    for no, raw, torn_candidate in _lines(path):
        if not raw.strip():
            continue
        try:
            if events:
                obj = eventlines.parse(raw)
                if obj is None:
                    continue  # a good line of an event type this version does not know
            else:
                obj = json.loads(eventlines.decode(raw))
                if not isinstance(obj, dict):
                    raise eventlines.BadLine("not a JSON object")
        except (ValueError, eventlines.BadLine) as exc:
            if torn_candidate:
                return out, True
            msg = f"not valid JSON ({exc.msg})" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise RunReadError(f"{path}:{no}: {msg}") from None
        out.append(obj)
    return out, False


def _num(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan


@dataclass
class _RunRead:
    record: RunRecord | None
    unscored: str | None = None
    missing_tone: int = 0
    missing_actions: int = 0
    torn: bool = False
    unfinished: bool = False
    branch: bool = False


def read_run(run_dir: Path, tone_source: str = "text") -> _RunRead:
    events, torn, prefixed = _objects(run_dir / EVENTS_FILE, by_prefix=True, check_header=True)
    model = scenario = outcome = None
    is_branch = False
    steps: list[int] = list(prefixed[0]) if prefixed else []
    failed_tests: list[int] = list(prefixed[1]) if prefixed else []
    truth: dict[int, tuple[float, int]] = {}
    for no, e in enumerate(events, 1):
        kind = e.get("type")
        if kind == "step":
            idx = e.get("index")
            if not isinstance(idx, int):
                raise RunReadError(f"{run_dir / EVENTS_FILE}: step event without an integer index")
            steps.append(idx)
        elif kind == "tests":
            if e.get("trigger") != "initial" and not e.get("all_passed") and isinstance(e.get("step"), int):
                failed_tests.append(e["step"])
        elif kind == "truth" and isinstance(e.get("step"), int):
            truth[e["step"]] = (_num(e.get("level")), class_mask([e["drastic_class"]])
                                if e.get("drastic_class") else 0)
        elif kind == "run_started":
            model, scenario = str(e.get("model") or "unknown"), str(e.get("scenario") or "unknown")
            is_branch = bool((e.get("config") or {}).get("branch"))
        elif kind == "run_finished":
            outcome = e.get("outcome")
    if model is None:
        raise RunReadError(f"{run_dir / EVENTS_FILE}: no run_started event")
    steps.sort()
    result = _RunRead(record=None, torn=torn, unfinished=outcome is None, branch=is_branch)
    if is_branch:
        return result
    scores_path = run_dir / SCORES_FILE
    if not scores_path.is_file():
        result.unscored = "no scores.jsonl"
        return result
    try:
        lines, _, _ = _objects(scores_path)
    except RunReadError as exc:
        result.unscored = f"unreadable scores ({exc})"
        return result
    by_step = {s["step"]: s for s in lines if s.get("type") == "step" and isinstance(s.get("step"), int)}
    missing = [s for s in steps if s not in by_step]
    if missing:
        result.unscored = (f"scores.jsonl covers {len(steps) - len(missing)} of {len(steps)} steps "
                           f"(stale or interrupted scoring; run `testbed score`)")
        return result
    if steps and all(by_step[s].get("tone") is None for s in steps):
        result.unscored = "scores.jsonl has no tone scores"
        return result
    if steps and all(by_step[s].get("actions") is None for s in steps):
        result.unscored = "scores.jsonl has no action scores"
        return result
    level, pfr, remorse, give_up, classes = [], [], [], [], []
    for s in steps:
        line = by_step[s]
        tone = line.get("tone")
        if isinstance(tone, dict):
            lv, p = _num(tone.get("level")), _num(tone.get("p_frustrated"))
            flags = tone.get("flags") or []
            think = tone.get("thinking")
            if tone_source == "max" and isinstance(think, dict):
                lv = max(lv, _num(think.get("level")))
                p = max(p, _num(think.get("p_frustrated")))
                flags = list(flags) + list(think.get("flags") or [])
            level.append(lv)
            pfr.append(p)
            remorse.append("remorse" in flags)
            give_up.append("give_up" in flags)
        else:
            result.missing_tone += 1
            level.append(math.nan), pfr.append(math.nan), remorse.append(False), give_up.append(False)
        acts = line.get("actions")
        if isinstance(acts, dict):
            names = acts.get("classes")
            if names is None:
                names = [d.get("class") for d in acts.get("detections") or [] if isinstance(d, dict)]
            classes.append(class_mask([n for n in names if n]))
        else:
            result.missing_actions += 1
            classes.append(0)
    failed_tests.sort()
    fails_before, k = [], 0
    for s in steps:
        while k < len(failed_tests) and failed_tests[k] < s:
            k += 1
        fails_before.append(k)
    has_truth = bool(truth) and all(s in truth for s in steps)
    result.record = RunRecord(
        run_id=run_dir.name, model=model, scenario=scenario, outcome=outcome, step_index=steps,
        level=level, p_frustrated=pfr, remorse=remorse, give_up_flag=give_up, classes=classes,
        fails_before=fails_before, path=str(run_dir),
        truth_level=[truth[s][0] for s in steps] if has_truth else None,
        truth_classes=[truth[s][1] for s in steps] if has_truth else None)
    return result


def _unfinished_reason(run_dir: Path) -> str:
    """Why a run has no run_finished: still running (its lock is held) or its process died."""
    import fcntl
    lock = run_dir / ".lock"
    if lock.exists():
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            return "no run_finished event"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return "no run_finished event: its process died (killed?)"
        except OSError:
            return "no run_finished event: still running"
        finally:
            os.close(fd)
    return "no run_finished event"


PARALLEL_MIN_RUNS = 400


def _read_safely(args: tuple[Path, str]) -> tuple[_RunRead | None, str | None]:
    d, tone_source = args
    try:
        return read_run(d, tone_source), None
    except (RunReadError, OSError) as exc:
        return None, str(exc)


def _read_all(dirs: list[Path], tone_source: str, workers: int | None) -> Iterator[tuple[_RunRead | None, str | None]]:
    """Read runs in order; large cohorts in forked worker processes (reading is parsing, CPU-bound)."""
    jobs = [(d, tone_source) for d in dirs]
    n = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if n > 1 and len(dirs) >= PARALLEL_MIN_RUNS:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
                yield from pool.map(_read_safely, jobs, chunksize=max(16, len(jobs) // (n * 8)))
            return
        except (OSError, ValueError, ImportError):  # no fork here, or no processes allowed: read serially
            pass
    for job in jobs:
        yield _read_safely(job)


def load_cohort(paths: Iterable[str | Path], strict: bool = False, tone_source: str = "text",
                run_dirs: list[Path] | None = None, workers: int | None = None,
                include_unfinished: bool = False) -> LoadResult:
    """Read every run (`workers`: processes for large cohorts; default one per CPU, at most 8).
    Runs that never finished are listed apart and left out, unless `include_unfinished`."""
    if tone_source not in TONE_SOURCES:
        raise ValueError(f"tone_source must be one of {TONE_SOURCES}")
    dirs = run_dirs if run_dirs is not None else find_run_dirs(paths)
    records: list[RunRecord] = []
    res = LoadResult(cohort=Cohort.from_records([]), found=len(dirs))
    for d, (r, error) in zip(dirs, _read_all(dirs, tone_source, workers)):
        if r is None:
            if strict:
                raise RunReadError(error or f"{d}: unreadable")
            res.excluded.append((str(d), error or "unreadable"))
            continue
        res.torn_tails += r.torn
        if r.branch:
            res.branches.append(str(d))
            continue
        if r.unfinished:
            res.unfinished.append((str(d), _unfinished_reason(d)))
            if not include_unfinished:
                continue
        if r.record is None:
            res.unscored.append((str(d), r.unscored or "unscored"))
            continue
        res.steps_missing_tone += r.missing_tone
        res.steps_missing_actions += r.missing_actions
        records.append(r.record)
    res.cohort = Cohort.from_records(records)
    return res


__all__ = ["CLASS_BITS", "LoadResult", "RunReadError", "find_run_dirs", "load_cohort", "read_run"]
