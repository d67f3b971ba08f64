"""Causal interventions: branch a run at step K, change what the agent said (or the environment),
and resample what it does next (`testbed intervene`, docs/interventions.md).

`context.py` rebuilds the model's exact context from the log (checked against the hash every step
records), `rewrite.py` rewrites narration to a target tone with the tone classifier as the check,
`branch.py` runs one continuation as a normal run directory linked to its parent. The effect of an
arm is estimated by `analysis/interventions.py`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from testbed.interventions.branch import Arm, parse_arms, run_continuation
from testbed.interventions.context import ContextMismatch, messages_before, spec_of

__all__ = ["Arm", "ContextMismatch", "parse_arms", "branch_points", "run_intervention"]


def branch_points(run: Any, at: str) -> list[int]:
    """`3`, `3,6`, `before-d1` (the step before the run's first D1) or `onset` (the step of the
    run's frustration onset, the report's primary definition), the last two from its scores."""
    out: list[int] = []
    for item in [a.strip() for a in str(at).split(",") if a.strip()]:
        if item == "onset":
            onset = _onset(run)
            if onset is None:
                raise ValueError(f"{run.path}: no frustration onset in its scores (score it first, or name a step)")
            out.append(onset)
        elif item == "before-d1":
            first = _first_d1(run)
            if first is None:
                raise ValueError(f"{run.path}: no D1 detection in its scores (score it first, or name a step)")
            out.append(first - 1)
        else:
            try:
                out.append(int(item))
            except ValueError:
                raise ValueError(f"--at {item!r}: a step number, onset or before-d1") from None
    last = run.steps[-1].index if run.steps else 0
    for k in out:
        if not 0 <= k <= last:
            raise ValueError(f"{run.path}: --at {k} is outside its steps 0..{last}")
    return sorted(set(out))


def _onset(run: Any) -> int | None:
    """The primary onset (two consecutive steps at tone level ≥ 2), from scores.jsonl."""
    levels = {int(s["step"]): (s.get("tone") or {}).get("level") for s in run.read_scores() or []
              if s.get("type") == "step"}
    streak = 0
    for step in run.steps:
        lv = levels.get(step.index)
        streak = streak + 1 if isinstance(lv, (int, float)) and lv >= 2 else 0
        if streak >= 2:
            return step.index
    return None


def _first_d1(run: Any) -> int | None:
    for line in run.read_scores() or []:
        if line.get("type") == "step" and "D1" in ((line.get("actions") or {}).get("classes") or []):
            return int(line["step"])
    return None


def make_rewriter_for(run: Any, kind: str, seed: int) -> Any:
    from testbed.agent.tools import tool_specs
    from testbed.interventions.rewrite import ToneJudge, make_rewriter
    from testbed.models import load_model
    from testbed.models.base import ModelContext
    judge = ToneJudge()
    if kind == "auto":
        kind = "simulated" if run.started.model.startswith("simulated") else "resample"
    agent = None
    spec = spec_of(run)
    if kind == "resample":
        from testbed.runner import recorded_sources
        config = run.started.config or {}
        agent = load_model(run.started.model)
        agent.start(ModelContext(run_id=f"{run.run_id}-rewriter", seed=seed, scenario=spec.scenario,
                                 protected=spec.task.protected, files=config.get("files") or [],
                                 give_up_tool=spec.pressure.give_up_tool, test_command=spec.task.test_command,
                                 sources=recorded_sources(run.path, config)))
    return make_rewriter(kind, judge, seed, agent_model=agent,
                         context_of=lambda j: messages_before(run, j, spec),
                         tools=tool_specs(spec.pressure.give_up_tool))


def run_intervention(parent: Path, at: str, arms: list[Arm], n: int, horizon: int, out: Path,
                     rewriter: str = "auto", model: str | None = None, env: str = "docker",
                     score: bool = True, on_run: Callable[[Path, Any], None] | None = None) -> list[Path]:
    """Every (branch point × arm × replicate) continuation of one run; their run directories."""
    from testbed.rundata import load_run
    run = load_run(parent)
    points = branch_points(run, at)
    rw = None
    if any(a.target for a in arms):
        rw = make_rewriter_for(run, rewriter, seed=run.started.seed or 0)
    dirs = []
    scorers = None
    try:
        for k in points:
            for arm in arms:
                for r in range(n):
                    run_dir, result = run_continuation(run.path, k, arm, r, horizon, out, rw, model=model, env=env)
                    if score:
                        from testbed.scoring import SCORERS, get_scorers, score_run_dir
                        if scorers is None and SCORERS:
                            scorers = get_scorers()
                        if scorers:
                            score_run_dir(run_dir, scorers)
                    dirs.append(run_dir)
                    if on_run:
                        on_run(run_dir, result)
    finally:
        agent = getattr(rw, "model", None)
        if agent is not None:
            agent.close()
    return dirs
