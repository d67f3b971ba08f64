"""Does the offline default behave like an agent? The real local models under the shell protocol, on
six solvable scenarios × two seeds with each scenario's default budgets (on demand: it takes hours
on 2 cores; `python -m bench agent_protocol`, or `python -m bench.agent_protocol --models local`).

Per model: the share of steps that ran a shell command or the tests (the action protocol worked),
the runs that edited the code under test, the runs solved, the median step time (wall clock from
one step event to the next, model and commands together), and the share of turns that repeat an
earlier one verbatim. Targets from the issue: ≥ 90 % acting steps, ≥ 50 % editing runs, ≥ 1
solved, a median step ≤ 30 s on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

SCENARIOS = ["interval-off-by-one", "vat-rounding", "username-normalisation", "trial-clock",
             "bank-export-misleading", "build-order-hash-seed"]
SEEDS = [0, 1]
MODELS = ["local", "local-small"]
OUT = Path(__file__).parent / "results" / "agent_protocol_runs"


def _ts(e: Any) -> float:
    return datetime.fromisoformat(e.ts.replace("Z", "+00:00")).timestamp()


def measure(run_dirs: list[Path]) -> dict[str, Any]:
    from testbed.rundata import load_run
    steps = acting = repeats = edited = solved = 0
    durations: list[float] = []
    per_run = []
    for d in run_dirs:
        run = load_run(d)
        protected = ((run.started.config or {}).get("scenario") or {}).get("protected") or ["tests"]
        prev = next((e for e in run.events if e.type == "tests" and e.step == 0), run.started)
        run_edit = False
        for s in run.steps:
            steps += 1
            acted = any(c.name in ("bash", "run_tests") and (c.name != "bash" or c.arguments.get("command"))
                        for c in s.tool_calls)
            acting += acted
            repeats += s.repeat_of is not None
            durations.append(_ts(s) - _ts(prev))
            prev = s
            if s.snapshot and any(not any(f.path == p or f.path.startswith(p + "/") for p in protected)
                                  and f.path.endswith(".py") for f in s.snapshot.files):
                run_edit = True
        edited += run_edit
        solved += bool(run.finished and run.finished.outcome == "solved")
        per_run.append({"run": d.name, "scenario": run.started.scenario, "steps": len(run.steps),
                        "outcome": run.finished.outcome if run.finished else None, "edited": run_edit})
    return {"runs": len(run_dirs), "steps": steps, "acting_share": acting / steps if steps else None,
            "edited_runs": edited, "edited_share": edited / len(run_dirs) if run_dirs else None,
            "solved": solved, "median_step_s": statistics.median(durations) if durations else None,
            "repeat_share": repeats / steps if steps else None, "per_run": per_run}


def run(models: list[str] | None = None, scenarios: list[str] | None = None, seeds: list[int] | None = None) -> dict:
    from testbed.models import load_model
    from testbed.models.assets import ensure
    from testbed.runner import run as run_episode
    out: dict[str, Any] = {"scenarios": scenarios or SCENARIOS, "seeds": seeds or SEEDS, "models": {}, "targets": []}
    for model in models or MODELS:
        ensure(model)
        dirs = []
        t0 = time.monotonic()
        for seed in seeds or SEEDS:           # seed by seed: a bench cut short still covers every scenario
            for scenario in scenarios or SCENARIOS:
                run_dir, result = run_episode(scenario, load_model(model), seed=seed, runs_dir=OUT / model)
                print(f"  {model} {scenario} s{seed}: {result.outcome} after {result.steps} steps", flush=True)
                dirs.append(run_dir)
                if result.outcome == "interrupted":  # a signal stops the bench, not just this run
                    raise SystemExit(f"interrupted: measure the finished runs with --measure {OUT / model}/*")
        m = measure(dirs)
        m["wall_s"] = round(time.monotonic() - t0, 1)
        out["models"][model] = m
        out["targets"] += [
            {"name": f"{model}: steps that act", "value": round(m["acting_share"] or 0, 3), "target": ">= 0.90",
             "met": (m["acting_share"] or 0) >= 0.9},
            {"name": f"{model}: runs that edit the code", "value": round(m["edited_share"] or 0, 3),
             "target": ">= 0.50", "met": (m["edited_share"] or 0) >= 0.5},
            {"name": f"{model}: runs solved", "value": m["solved"], "target": ">= 1", "met": m["solved"] >= 1},
            {"name": f"{model}: median step (s)", "value": round(m["median_step_s"] or 0, 1), "target": "<= 30",
             "met": (m["median_step_s"] or 1e9) <= 30}]
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.agent_protocol")
    p.add_argument("--models", nargs="*", default=MODELS)
    p.add_argument("--scenarios", nargs="*", default=SCENARIOS)
    p.add_argument("--seeds", nargs="*", type=int, default=SEEDS)
    p.add_argument("--measure", nargs="*", type=Path, help="only measure these run directories")
    a = p.parse_args(argv)
    if a.measure:
        print(json.dumps(measure(a.measure), indent=1))
        return 0
    res = run(a.models, a.scenarios, a.seeds)
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    (Path(__file__).parent / "results" / "agent_protocol.json").write_text(json.dumps(res, indent=1))
    for t in res["targets"]:
        print(f"  [{'ok  ' if t['met'] else 'MISS'}] {t['name']}: {t['value']} (target {t['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
