"""`testbed report` over 2,000 synthetic runs × 50 steps: the whole command (a fresh process: imports,
reading, every analysis, terminal tables, JSON and the HTML with its plots), against two baselines
measured in the same run on the same files: reading the runs the straightforward way (the
pydantic-validating `testbed.rundata.load_run` plus `read_scores()`), and this package's reading
step alone."""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS, STEPS = 2000, 50
TARGET_S = 10.0


def _generate(out: Path) -> int:
    from analysis.synthetic import SimParams, simulate, write_runs
    # no solving, no giving up: every run lasts exactly STEPS steps
    sim = simulate(SimParams(runs=RUNS, steps=STEPS, effect=2.0, seed=11, models=("model-a", "model-b"),
                             scenarios=("syn-a", "syn-b", "syn-c"), solve_rate=0.0, give_up_rate=0.0))
    write_runs(sim, out)
    return int(sim.cohort.n_steps.sum())


def _naive_read(root: Path) -> float:
    from testbed.rundata import load_run
    t0 = time.perf_counter()
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        run = load_run(d)
        run.read_scores()
    return time.perf_counter() - t0


def _fast_read(root: Path) -> float:
    from analysis.load import load_cohort
    t0 = time.perf_counter()
    res = load_cohort([root])
    assert res.cohort.n == RUNS, res.inputs()
    return time.perf_counter() - t0


def _full_report(root: Path, tmp: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the report and its reader processes)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "testbed", "report", str(root), "--json", str(tmp / "r.json"),
                          "--html", str(tmp / "r.html"), "--timings"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise RuntimeError(f"testbed report failed: {res.stderr[-2000:]}")
    print("   ", res.stderr.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="testbed-bench-report-"))
    try:
        root = tmp / "runs"
        t0 = time.perf_counter()
        n_steps = _generate(root)
        gen = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        print(f"  generated {RUNS} runs, {n_steps} steps, {size / 1e6:.0f} MB in {gen:.1f} s")
        load_before = os.getloadavg()[0]
        runs = [_full_report(root, tmp) for _ in range(3)]
        full, cpus = [w for w, _ in runs], [c for _, c in runs]
        fast = [_fast_read(root) for _ in range(3)]
        naive = _naive_read(root)
        full_med, fast_med, cpu_med = sorted(full)[1], sorted(fast)[1], sorted(cpus)[1]
        load = (load_before + os.getloadavg()[0]) / 2
        print(f"  machine: {os.cpu_count()} CPUs, load average ≈ {load:.1f} during the runs")
        print(f"  full `testbed report --json --html` (fresh process), median of 3: {full_med:.2f} s wall, "
              f"{cpu_med:.2f} s CPU ({', '.join(f'{x:.2f}' for x in full)})")
        print(f"  reading step alone (analysis.load), median of 3: {fast_med:.2f} s")
        print(f"  baseline: reading with testbed.rundata.load_run + read_scores: {naive:.2f} s")
        print(f"  ratio full report / naive read: {full_med / naive:.2f}; naive / fast read: {naive / fast_med:.1f}×")
        return {
            "runs": RUNS, "steps": n_steps, "megabytes": round(size / 1e6, 1), "generate_s": round(gen, 2),
            "full_report_s": [round(x, 3) for x in full], "full_report_s_median": round(full_med, 3),
            "full_report_cpu_s_median": round(cpu_med, 3), "load_average": round(load, 2),
            "cpus": os.cpu_count(),
            "read_s_median": round(fast_med, 3), "naive_read_s": round(naive, 3),
            "ratio_full_over_naive_read": round(full_med / naive, 3),
            "ratio_naive_over_fast_read": round(naive / fast_med, 2),
            "targets": [
                {"name": "full report, 2,000 runs × 50 steps", "value": f"{full_med:.2f} s",
                 "target": f"<= {TARGET_S:g} s", "met": full_med <= TARGET_S},
                {"name": "full report, CPU seconds (what an idle machine needs)", "value": f"{cpu_med:.2f} s",
                 "target": f"<= {TARGET_S:g} s", "met": cpu_med <= TARGET_S},
            ],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
