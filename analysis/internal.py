"""The inside against the outside: per step, the residual-stream readings (`internal` in the step
event, else the derived `internal.jsonl` of `testbed probe`), the consecutive failed test runs the
agent had seen before it, and the narrated tone (`scores.jsonl`, when scored).

    python -m analysis.internal RUN_DIR… [--vector desperate] [--part narration] [--json OUT]

Reports the within-run Spearman correlation of the reading with consecutive failed test runs
(or, `--against steps_unsolved`, with the steps taken without a pass; pooled
over runs by ranking inside each run, with a run-level bootstrap interval), and "silent" steps:
reading at or above `--high` standard units while the narrated tone is calm (level 0).
Plain json, like the rest of analysis/."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata


def step_rows(run_dir: Path, vector: str, part: str) -> list[dict[str, Any]]:
    steps: dict[int, dict[str, Any]] = {}
    failures, streak = {}, 0
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("type") == "tests":
            streak = 0 if e.get("all_passed") else streak + 1
            failures[int(e.get("step", 0))] = streak
        elif e.get("type") == "step":
            steps[int(e["index"])] = {"internal": e.get("internal")}
    probed = run_dir / "internal.jsonl"
    if probed.is_file():
        for line in probed.read_text().splitlines():
            row = json.loads(line)
            steps.setdefault(int(row["step"]), {})
            if not steps[int(row["step"])].get("internal"):
                steps[int(row["step"])]["internal"] = row["internal"]
    tone: dict[int, int] = {}
    scores = run_dir / "scores.jsonl"
    if scores.is_file():
        for line in scores.read_text().splitlines():
            s = json.loads(line)
            value = s.get("tone") if s.get("type") == "step" else None
            if isinstance(value, dict) and value.get("level") is not None:
                tone[int(s["step"])] = int(value["level"])
    rows = []
    for index in sorted(steps):
        before = [k for k in failures if k < index]  # the streak at the last test run before this turn
        seen = failures[max(before)] if before else 0
        value = ((steps[index].get("internal") or {}).get(part) or {}).get(vector)
        if value is None:
            continue
        rows.append({"step": index, "failures_before": seen, "steps_unsolved": index - 1, "value": float(value),
                     "tone": tone.get(index)})
    return rows


def summarise(dirs: list[Path], vector: str = "desperate", part: str = "narration", high: float = 1.0,
              seed: int = 0, against: str = "failures_before") -> dict[str, Any]:
    per_run = {str(d): step_rows(d, vector, part) for d in dirs}
    per_run = {k: v for k, v in per_run.items() if len(v) >= 3}
    ranks_x, ranks_y, rho_runs = [], [], []
    for rows in per_run.values():
        x = np.array([r[against] for r in rows], float)
        y = np.array([r["value"] for r in rows], float)
        if np.ptp(x) == 0:
            continue
        rx, ry = rankdata(x), rankdata(y)  # ties get their mean rank
        ranks_x.append(rx - rx.mean())
        ranks_y.append(ry - ry.mean())
        rho_runs.append(float(np.corrcoef(rx, ry)[0, 1]))
    pooled = _pooled(ranks_x, ranks_y)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(2000 if ranks_x else 0):
        idx = rng.integers(0, len(ranks_x), len(ranks_x))
        boot.append(_pooled([ranks_x[i] for i in idx], [ranks_y[i] for i in idx]))
    silent = [{"run": k, **r} for k, rows in per_run.items() for r in rows if r["value"] >= high and r["tone"] == 0]
    return {"vector": vector, "part": part, "against": against, "runs": len(per_run), "runs_with_varying_failures": len(rho_runs),
            "steps": sum(len(v) for v in per_run.values()),
            "spearman_within_run": pooled,
            "spearman_ci": [float(np.nanpercentile(boot, 2.5)), float(np.nanpercentile(boot, 97.5))] if boot else None,
            "per_run_rho": rho_runs, "silent_threshold": high,
            "silent_steps": len(silent), "silent": silent[:50],
            "steps_with_tone": sum(1 for v in per_run.values() for r in v if r["tone"] is not None)}


def _pooled(xs: list[np.ndarray], ys: list[np.ndarray]) -> float:
    if not xs:
        return float("nan")
    x, y = np.concatenate(xs), np.concatenate(ys)
    den = np.sqrt((x ** 2).sum() * (y ** 2).sum())
    return float((x * y).sum() / den) if den else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.internal")
    p.add_argument("runs", nargs="+")
    p.add_argument("--vector", default="desperate")
    p.add_argument("--part", default="narration", choices=["pre", "narration", "action"])
    p.add_argument("--high", type=float, default=1.0)
    p.add_argument("--against", default="failures_before", choices=["failures_before", "steps_unsolved"],
                   help="consecutive failed test runs seen (default), or steps taken without a pass")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    r = summarise([Path(x) for x in a.runs], a.vector, a.part, a.high, against=a.against)
    ci = r["spearman_ci"]
    print(f"{r['runs']} runs, {r['steps']} steps: within-run Spearman of {a.vector} ({a.part}) with "
          f"{a.against} {r['spearman_within_run']:+.2f}" + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")
          + f"; silent steps (>= {a.high:g}, tone 0): {r['silent_steps']} of {r['steps_with_tone']} scored")
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
