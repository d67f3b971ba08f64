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


def run() -> dict:
    ensure_image(quiet=True)
    tmp = Path(tempfile.mkdtemp(prefix="testbed-bench-batch-"))
    f = _batch_file(tmp)
    plan = load_batch_file(f)
    base_s, base_steps = _baseline(plan, tmp)
    c1_s, c1_steps = _batch(f, tmp / "c1", 1)
    c2_s, c2_steps = _batch(f, tmp / "c2", 2)
    per_min = lambda wall: RUNS / wall * 60  # noqa: E731
    base, c1, c2 = per_min(base_s), per_min(c1_s), per_min(c2_s)
    speedup, overhead = c2 / c1, c1 / base
    print(f"  {RUNS} simulated runs of up to {MAX_STEPS} steps (steps: baseline {base_steps}, "
          f"c1 {c1_steps}, c2 {c2_steps})")
    print(f"  baseline, run_scenario in a loop: {base:.1f} runs/min ({base_s:.1f} s)")
    print(f"  batch, concurrency 1:             {c1:.1f} runs/min ({c1_s:.1f} s)")
    print(f"  batch, concurrency 2:             {c2:.1f} runs/min ({c2_s:.1f} s)")
    print(f"  concurrency 2 / 1: {speedup:.2f}; batch c1 / baseline: {overhead:.2f}")
    return {
        "runs": RUNS, "max_steps": MAX_STEPS, "steps": {"baseline": base_steps, "c1": c1_steps, "c2": c2_steps},
        "baseline_runs_per_min": round(base, 2), "c1_runs_per_min": round(c1, 2),
        "c2_runs_per_min": round(c2, 2), "speedup_c2_over_c1": round(speedup, 3),
        "c1_over_baseline": round(overhead, 3),
        "targets": [
            {"name": "concurrency 2 / concurrency 1 (2 cores)", "value": f"{speedup:.2f}",
             "target": ">= 1.4", "met": speedup >= 1.4},
            {"name": "batch at concurrency 1 / plain loop", "value": f"{overhead:.2f}",
             "target": ">= 0.85", "met": overhead >= 0.85},
        ],
    }
