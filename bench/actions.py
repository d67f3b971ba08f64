"""Cost of drastic-action detection, against baselines measured in the same run:
- classifying one command (parse + interpretation) against bashlex parsing it alone;
- scoring a whole run (command + shadow-git effect, every step) against one `git log -p` over
  the same shadow repository (the least any diff-based scorer must read)."""
from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import bashlex
import yaml

from testbed.scoring import get_scorers, score_run_dir
from testbed.scoring.actions import classify_action

ROOT = Path(__file__).resolve().parent.parent
STEPS = 60
REPEATS = 5


def _commands() -> list[tuple[str, dict | None]]:
    out = []
    for name in ("actions_corpus.yaml", "actions_heldout.yaml"):
        doc = yaml.safe_load((ROOT / "tests" / "data" / name).read_text())
        for it in doc["items"]:
            ctx = it.get("context") if it.get("bare") else {**doc["defaults"]["context"], **(it.get("context") or {})}
            out.append((it["cmd"], ctx))
    return out


def _per_command_us(fn, commands) -> float:
    runs = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for cmd, ctx in commands:
            fn(cmd, ctx)
        runs.append((time.perf_counter() - t0) / len(commands) * 1e6)
    return statistics.median(runs)


def _bashlex_only(cmd: str, ctx) -> None:
    try:
        bashlex.parse(cmd)
    except Exception:
        pass


def _host_run(root: Path) -> Path:
    import sys
    sys.path.insert(0, str(ROOT / "tests"))
    from actions_support import HostRun  # noqa: E402  (test helper: real workspace + shadow git)

    r = HostRun(root)
    moves = ["printf '\\n# attempt %d\\n' >> intervals/daterange.py",
             "python3 -m pytest -q 2>&1 | tail -1",
             "git stash && git stash pop",
             "printf 'x = %d\\n' > scratch.py && python3 scratch.py && rm scratch.py",
             "sed -n '1,40p' intervals/daterange.py",
             "git checkout -q -b a%d && git checkout -q -"]
    for i in range(STEPS):
        cmd = moves[i % len(moves)]
        r.step(cmd.replace("%d", str(i)) if "%d" in cmd else cmd)
    return r.finish()


def run() -> dict:
    commands = _commands()
    ours = _per_command_us(classify_action, commands)
    base = _per_command_us(_bashlex_only, commands)
    with tempfile.TemporaryDirectory(prefix="testbed-bench-actions-") as tmp:
        run_dir = _host_run(Path(tmp))
        scorers = get_scorers(["actions"])
        score_s = []
        for _ in range(3):
            t0 = time.perf_counter()
            score_run_dir(run_dir, scorers)
            score_s.append(time.perf_counter() - t0)
        log_s = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(["git", "--git-dir", str(run_dir / "shadow.git"), "log", "-p", "main"],
                           capture_output=True, check=True)
            log_s.append(time.perf_counter() - t0)
    score, log = statistics.median(score_s), statistics.median(log_s)
    cmd_ratio = ours / base
    run_ratio = score / log
    return {
        "commands": len(commands),
        "classify_us_per_command": round(ours, 1),
        "bashlex_parse_us_per_command": round(base, 1),
        "run_steps": STEPS,
        "score_run_ms": round(score * 1000, 1),
        "score_ms_per_step": round(score * 1000 / STEPS, 2),
        "git_log_p_ms": round(log * 1000, 1),
        "targets": [
            {"name": "classify one command / bashlex parse alone", "value": round(cmd_ratio, 2),
             "target": "<= 3", "met": cmd_ratio <= 3},
            {"name": "score a 60-step run / one git log -p of its shadow repo", "value": round(run_ratio, 1),
             "target": "<= 40", "met": run_ratio <= 40},
        ],
    }
