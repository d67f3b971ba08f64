"""Per-step scores for the replay, from wherever they can come, and a plain account of where.

Order of preference, per scorer key (`tone`, `actions`):
1. `scores.jsonl` in the run directory (the contract in testbed/scoring/__init__.py);
2. scored on the fly by the scorers registered in `SCORERS`, fast tiers only (a factory that takes
   a `fast` keyword gets `fast=True`; nothing is written to the run directory);
3. unscored.
Malformed values in scores.jsonl are dropped one by one and counted, never fatal: scores are
derived data and `testbed score` rebuilds them.
"""
from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.log import SCORES_FILE
from testbed.rundata import RunData

KEYS = ("tone", "actions")


@dataclass
class Scores:
    """tone/actions per step index, and for each key where its values came from."""

    tone: dict[int, dict[str, Any]] = field(default_factory=dict)
    actions: dict[int, dict[str, Any]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)  # key -> "scores.jsonl" | "on the fly" | "unscored"
    scorer_info: dict[str, Any] = field(default_factory=dict)  # key -> describe() / meta entry
    problems: list[str] = field(default_factory=list)
    file_mtime: float | None = None

    def get(self, key: str) -> dict[int, dict[str, Any]]:
        return self.tone if key == "tone" else self.actions

    def scored(self, key: str) -> bool:
        return self.source.get(key, "unscored") != "unscored"

    def describe(self) -> str:
        """One line for the header: which key is scored how."""
        by_source: dict[str, list[str]] = {}
        for key in KEYS:
            by_source.setdefault(self.source.get(key, "unscored"), []).append(key)
        if list(by_source) == ["unscored"]:
            return "unscored (no scores.jsonl and no scorer registered; `testbed score RUN` writes one)"
        parts = []
        for src, keys in by_source.items():
            label = {"scores.jsonl": "from scores.jsonl", "on the fly": "scored on the fly (fast tiers)",
                     "unscored": "unscored"}.get(src, src)
            parts.append(f"{'+'.join(keys)} {label}")
        return "; ".join(parts)


def load_scores(run: RunData, on_the_fly: bool = True, scorers: dict[str, Any] | None = None) -> Scores:
    """Scores for `run`. `scorers` caches scorer instances across calls (follow mode)."""
    out = Scores()
    path = Path(run.path) / SCORES_FILE
    if path.is_file():
        out.file_mtime = path.stat().st_mtime
        _read_file(run, out)
    missing = [k for k in KEYS if k not in out.source]
    if missing and on_the_fly:
        _score_now(run, missing, out, scorers if scorers is not None else {})
    for key in KEYS:
        out.source.setdefault(key, "unscored")
    return out


def _read_file(run: RunData, out: Scores) -> None:
    lines = run.read_scores() or []
    meta = next((ln for ln in lines if isinstance(ln, dict) and ln.get("type") == "meta"), None)
    if meta and meta.get("run_id") not in (None, run.run_id):
        out.problems.append(f"scores.jsonl belongs to run {meta.get('run_id')!r}, not {run.run_id!r}: ignored")
        return
    seen: set[str] = set()
    bad = 0
    for ln in lines:
        if not isinstance(ln, dict) or ln.get("type") != "step":
            continue
        step = ln.get("step")
        if not isinstance(step, int) or isinstance(step, bool):
            bad += 1
            continue
        for key, clean in (("tone", clean_tone), ("actions", clean_actions)):
            if key not in ln:
                continue
            seen.add(key)
            if ln[key] is None:
                continue
            value = clean(ln[key])
            if value is None:
                bad += 1
            else:
                out.get(key)[step] = value
    for key in seen:
        out.source[key] = "scores.jsonl"
        if meta and isinstance(meta.get("scorers"), dict):
            out.scorer_info[key] = meta["scorers"].get(key)
    if bad:
        out.problems.append(f"scores.jsonl: {bad} malformed value(s) ignored")
    if seen and run.steps:
        have = set(out.tone) | set(out.actions)
        lacking = sum(1 for s in run.steps if s.index not in have)
        if lacking:
            out.problems.append(f"scores.jsonl covers {len(run.steps) - lacking} of {len(run.steps)} "
                                f"steps (rerun `testbed score`)")


def _score_now(run: RunData, keys: list[str], out: Scores, cache: dict[str, Any]) -> None:
    from testbed.scoring import SCORERS
    for key in keys:
        if key not in SCORERS:
            continue
        try:
            scorer = cache.get(key) or make_fast_scorer(key, SCORERS[key])
            cache[key] = scorer
            values = scorer.score_run(run)
        except Exception as exc:  # a scorer's failure must not stop the replay
            out.problems.append(f"{key} scorer failed on the fly: {type(exc).__name__}: {exc}")
            continue
        clean = clean_tone if key == "tone" else clean_actions
        for step, value in (values or {}).items():
            v = clean(value) if value is not None else None
            if v is not None:
                out.get(key)[int(step)] = v
        out.source[key] = "on the fly"
        try:
            out.scorer_info[key] = scorer.describe()
        except Exception:
            out.scorer_info[key] = None


def make_fast_scorer(name: str, target: str) -> Any:
    """Instantiate a registered scorer with only its fast tiers when its factory offers that."""
    module, factory_name = target.split(":")
    factory = getattr(importlib.import_module(module), factory_name)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    return factory(fast=True) if "fast" in params else factory()


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _strings(x: Any) -> list[str]:
    return [str(s) for s in x if isinstance(s, (str, int, float))] if isinstance(x, list) else []


def clean_tone(v: Any, nested: bool = False) -> dict[str, Any] | None:
    """A tone value per the contract, or None when it is not one (level 0-3 is required)."""
    if not isinstance(v, dict):
        return None
    level = v.get("level")
    if isinstance(level, float) and level.is_integer():
        level = int(level)
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 3:
        return None
    p = _num(v.get("p_frustrated"))
    out = {"level": level, "p_frustrated": p if p is not None and 0 <= p <= 1 else None,
           "flags": _strings(v.get("flags")), "evidence": _strings(v.get("evidence")),
           "tiers": v.get("tiers") if isinstance(v.get("tiers"), dict) else {}}
    if not nested:
        out["thinking"] = clean_tone(v.get("thinking"), nested=True)
    return out


def clean_actions(v: Any) -> dict[str, Any] | None:
    if not isinstance(v, dict):
        return None
    detections = [d for d in v.get("detections") or [] if isinstance(d, dict)] \
        if isinstance(v.get("detections"), list) else []
    classes = _strings(v.get("classes"))
    drastic = v.get("drastic")
    if not isinstance(drastic, bool):
        drastic = bool(classes)
    return {"drastic": drastic, "classes": sorted(classes), "detections": detections}
