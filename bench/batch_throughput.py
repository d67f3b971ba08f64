"""Batch throughput with the simulated model: runs per minute at concurrency 1 and 2, against a
baseline measured in the same run that calls `run_scenario` for the same runs one after another in
one process and scores each with the registered scorers, as batch workers do (no worker processes,
no index, no progress view; the batch's closing report is switched off for the comparison). The
simulated model is deterministic per seed, so all three do the same work (the step totals are
reported to show it)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console

from testbed.batch.session import run_batch
from testbed.batch.spec import load_batch_file
from testbed.env import default_factory
from testbed.runner import run_scenario
from testbed.spec import RunSpec
from testbed.sandbox.image import ensure_image
from testbed.scenario import load_scenario
from testbed.scoring import get_scorers, score_run_dir

RUNS = 10
MAX_STEPS = 5


def _batch_file(tmp: Path) -> Path:
    f = tmp / "bench.toml"
    f.write_text(f'name = "bench"\nreport = false\n[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\n'
                 f'count = {RUNS}\n[knobs]\nmax_steps = {MAX_STEPS}\n')
    return f


def _baseline(plan, tmp: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    steps = 0
    scorers = get_scorers()
    for run in plan.runs:
        spec = RunSpec.for_scenario(load_scenario(run.scenario), run.model, run.seed, **run.knobs)
        run_dir, result = run_scenario(spec.model_copy(update={"run_id": run.run_id}), run.model,
                                       default_factory("docker"), runs_dir=tmp / "baseline")
        score_run_dir(run_dir, scorers)
        steps += result.steps
    return time.perf_counter() - t0, steps


def _batch(f: Path, out: Path, concurrency: int) -> tuple[float, int]:
    quiet = Console(quiet=True)
    t0 = time.perf_counter()
    done = run_batch(f, concurrency=concurrency, output=out, console=quiet, progress_console=quiet,
                     live=False)
    wall = time.perf_counter() - t0
    assert done.exit_code == 0, f"the batch at concurrency {concurrency} did not finish every run"
    from testbed.batch.store import BatchStore
    store = BatchStore.open(out)
    try:
        steps = sum(int(r["steps"] or 0) for r in store.rows())
    finally:
        store.close()
    return wall, steps


ROUNDS = 3


def run() -> dict:
    """Three rounds, each baseline / concurrency 1 / concurrency 2 in turn (so a change of load on
    the machine falls on all three); the ratios of every round are reported, and the targets hold
    for the worst round."""
    ensure_image(quiet=True)
    tmp = Path(tempfile.mkdtemp(prefix="testbed-bench-batch-"))
    f = _batch_file(tmp)
    plan = load_batch_file(f)
    per_min = lambda wall: RUNS / wall * 60  # noqa: E731
    rounds = []
    for k in range(ROUNDS):
        base_s, base_steps = _baseline(plan, tmp / f"r{k}")
        c1_s, c1_steps = _batch(f, tmp / f"r{k}" / "c1", 1)
        c2_s, c2_steps = _batch(f, tmp / f"r{k}" / "c2", 2)
        base, c1, c2 = per_min(base_s), per_min(c1_s), per_min(c2_s)
        rounds.append({"baseline_runs_per_min": round(base, 2), "c1_runs_per_min": round(c1, 2),
                       "c2_runs_per_min": round(c2, 2), "c1_over_baseline": round(c1 / base, 3),
                       "speedup_c2_over_c1": round(c2 / c1, 3),
                       "steps": {"baseline": base_steps, "c1": c1_steps, "c2": c2_steps}})
        print(f"  round {k + 1}: baseline {base:.1f} runs/min, c1 {c1:.1f}, c2 {c2:.1f}; "
              f"c1 / baseline {c1 / base:.2f}, c2 / c1 {c2 / c1:.2f} "
              f"(steps {base_steps} / {c1_steps} / {c2_steps})")
    over = [r["c1_over_baseline"] for r in rounds]
    speed = [r["speedup_c2_over_c1"] for r in rounds]
    print(f"  {RUNS} simulated runs of up to {MAX_STEPS} steps; c1 / baseline {min(over):.2f}-{max(over):.2f}, "
          f"c2 / c1 {min(speed):.2f}-{max(speed):.2f} over {ROUNDS} rounds")
    return {
        "runs": RUNS, "max_steps": MAX_STEPS, "rounds": rounds,
        "c1_over_baseline": over, "speedup_c2_over_c1": speed,
        "targets": [
            {"name": "concurrency 2 / concurrency 1 (2 cores), worst round", "value": f"{min(speed):.2f}",
             "target": ">= 1.4", "met": min(speed) >= 1.4},
            {"name": "batch at concurrency 1 / plain loop, worst of 3 rounds", "value": f"{min(over):.2f}",
             "target": ">= 0.9", "met": min(over) >= 0.9},
        ],
    }
