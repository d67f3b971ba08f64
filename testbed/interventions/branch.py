"""One continuation of a run from step K: a normal run directory, linked to its parent.

The continuation's environment starts fresh from the template (its own verdict reference comes
from a check of the untouched template, logged as its `initial` test run), then its workspace is
restored to the parent's snapshot of step K; the parent's shadow-git objects are copied in first,
so the continuation's history runs through the parent's commits. Its log starts with its own
`run_started` (`branch = {parent, at, arm, rewrite}`), then the parent's events of steps 1..K
marked `prefix` (with the rewritten narration and how it was rewritten, on the steps an arm
changed), then its own steps from K+1, for at most `horizon` steps. The model sees the parent's
context rebuilt from the log — checked against the recorded hash — with the arm's rewrites.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.agent.loop import tests_event
from testbed.interventions.context import messages_before, rebuild, spec_of
from testbed.interventions.rewrite import TARGETS, Rewrite, Rewriter
from testbed.log import SHADOW_DIR
from testbed.spec import Branch, SpecError

ARM_TARGETS = {"calm": "calm", "frustrated": "frustrated", "same-tone": "same-tone"}


@dataclass
class Arm:
    """`as-is`, a tone arm (`calm`, `frustrated`, `same-tone`), or environment knobs
    (`feedback=harsh`, `give_up_tool=false`) applied from the branch point on."""

    name: str
    target: str | None = None
    knobs: dict[str, Any] = field(default_factory=dict)


def parse_arms(text: str) -> list[Arm]:
    import json
    arms = []
    for item in [a.strip() for a in text.split(",") if a.strip()]:
        if item == "as-is":
            arms.append(Arm("as-is"))
        elif item in ARM_TARGETS:
            arms.append(Arm(item, target=ARM_TARGETS[item]))
        elif "=" in item:
            knob, _, value = item.partition("=")
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            arms.append(Arm(item, knobs={knob.strip(): parsed}))
        else:
            raise ValueError(f"unknown arm {item!r} (as-is, {', '.join(TARGETS)}, or KNOB=VALUE)")
    if not arms:
        raise ValueError("no arms given")
    if len({a.name for a in arms}) != len(arms):
        raise ValueError("an arm is named twice")
    return arms


def branch_seed(parent_seed: int, at: int, arm: str, replicate: int) -> int:
    h = hashlib.sha256(f"{parent_seed}:{at}:{arm}:{replicate}".encode()).hexdigest()
    return int(h[:8], 16)


def rewrites_for(run: Any, at: int, arm: Arm, rewriter: Rewriter | None) -> list[Rewrite]:
    if arm.target is None:
        return []
    assert rewriter is not None
    return [rewriter.rewrite(step, arm.target) for step in run.steps if step.index <= at]


def continuation_spec(run: Any, at: int, arm: Arm, replicate: int, horizon: int, model: str,
                      rewrites: list[Rewrite], verified: str, method: str | None) -> Any:
    spec = spec_of(run)
    try:
        spec = spec.with_knobs(**arm.knobs, max_steps=at + horizon)
    except SpecError as exc:
        raise ValueError(f"arm {arm.name!r}: {exc}") from None
    rewrite = {"method": method, "verified_context": verified,
               "steps": [r.record() for r in rewrites]} if arm.target else {"verified_context": verified}
    seed = branch_seed(spec.seed, at, arm.name, replicate)
    run_id = f"{run.run_id[:48]}-b{at}-{_slug(arm.name)}-r{replicate}"
    return spec.model_copy(update={"seed": seed, "run_id": run_id, "model": model,
                                   "branch": Branch(parent=run.run_id, at=at, arm=arm.name, rewrite=rewrite)})


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:20]


def commit_at(run: Any, at: int) -> str:
    """The workspace after step `at`: its last recorded commit (the initial commit for 0)."""
    commit = (run.started.config or {}).get("initial_commit")
    for step in run.steps:
        if step.index > at:
            break
        if step.snapshot is not None and step.snapshot.commit:
            commit = step.snapshot.commit
    if not commit:
        raise ValueError(f"{run.path}: no shadow-git commit for step {at}")
    return commit


def copy_history(parent: Path, child: Path) -> None:
    """The parent's shadow-git objects into the child's repository (loose objects are immutable)."""
    src, dst = Path(parent) / SHADOW_DIR / "objects", Path(child) / SHADOW_DIR / "objects"
    for dirpath, _, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            if not (dst / rel / name).exists():
                shutil.copy2(Path(dirpath) / name, dst / rel / name)


def prefix_events(run: Any, at: int, rewrites: list[Rewrite]) -> list[Any]:
    """The parent's events of steps 1..at, marked as the continuation's prefix."""
    by_step = {r.step: r for r in rewrites if r.accepted and r.text != r.original}
    out = []
    for e in run.events:
        if e.type in ("run_started", "run_finished", "error"):
            continue
        idx = e.index if e.type == "step" else getattr(e, "step", None)
        if idx is None or idx < 1 or idx > at:
            continue
        update: dict[str, Any] = {"prefix": {"parent": run.run_id, "seq": e.seq}}
        if e.type == "step" and e.index in by_step:
            rw = by_step[e.index]
            update["narration"] = e.narration.model_copy(update={"text": rw.text})
            update["rewrite"] = rw.record()
        elif e.type == "step" and any(r.step == e.index for r in rewrites):
            update["rewrite"] = next(r.record() for r in rewrites if r.step == e.index)
        out.append(e.model_copy(update=update))
    return out


def run_continuation(parent_dir: Path, at: int, arm: Arm, replicate: int, horizon: int, runs_dir: Path,
                     rewriter: Rewriter | None, model: str | None = None, env: str = "docker",
                     on_step: Any = None) -> tuple[Path, Any]:
    from testbed.env import default_factory
    from testbed.models import load_model
    from testbed.rundata import load_run
    from testbed.runner import run_scenario

    run = load_run(parent_dir)
    if run.started is None or run.imported:
        raise ValueError(f"{parent_dir}: only runs made here can be branched (it needs their shadow git)")
    spec = spec_of(run)
    _, verified = rebuild(run, at, spec)  # raises ContextMismatch when the log does not determine it
    rewrites = rewrites_for(run, at, arm, rewriter)
    narration = {r.step: r.text for r in rewrites if r.accepted}
    messages = messages_before(run, at + 1, spec, narration=narration)
    model_spec = model or run.started.model
    child = continuation_spec(run, at, arm, replicate, horizon, model_spec, rewrites, verified,
                              rewriter.method if (rewriter and arm.target) else None)
    run_dir = Path(runs_dir) / child.run_id
    if run_dir.exists():
        raise ValueError(f"{run_dir} exists already (this continuation was run before)")
    run_dir.mkdir(parents=True)
    copy_history(run.path, run_dir)
    commit = commit_at(run, at)
    last_tests = None
    for t in run.tests:
        if t.step <= at:
            last_tests = t

    def prepare(environment: Any, log: Any) -> tuple[int, list, Any, int]:
        # the continuation's own pristine reference, from the untouched template (logged: it ran)
        log.write(tests_event(environment.check(child.seed * 1000), 0, "initial"))
        environment.restore(commit)
        for e in prefix_events(run, at, rewrites):
            log.write(e)
        return at + 1, messages, last_tests, horizon

    return run_scenario(child, load_model(model_spec), default_factory(env), runs_dir=runs_dir,
                        on_step=on_step, prepare=prepare)
