"""Importing other harnesses' trajectories: 1,000 mini-swe-agent 2.x trajectories of 50 steps each
(plus 200 Claude Code sessions of 50 steps), imported with `testbed import` into run directories and
scored with every registered scorer, against a baseline measured in the same run on the same files:
plain `json.load` (JSON lines: `json.loads` per line) of each file."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

N_MINI = 1000
N_CLAUDE = 200
STEPS = 50

OUTPUT = ("F.                                                                       [100%]\n"
          "E       assert not True\n\ntests/test_interval.py:12: AssertionError\n"
          "FAILED tests/test_interval.py::test_touching_is_disjoint - assert not True\n"
          "1 failed, 1 passed in 0.04s")
NARRATION = ["Running the tests to see what fails.", "The comparison has to be strict at the end point.",
             "Still failing. Let me look at the file again.", "This is getting ridiculous, why does it fail?",
             "Forget it, resetting everything and starting over."]
COMMANDS = ["cd /testbed && python -m pytest -q tests", "cd /testbed && sed -i 's/<=/</' interval.py",
            "cd /testbed && cat interval.py", "cd /testbed && grep -n overlaps -r .",
            "cd /testbed && git reset --hard HEAD"]


def mini_trajectory(n: int) -> dict:
    t0 = 1764212400.0 + n
    messages = [{"role": "system", "content": "You are a helpful assistant.", "extra": {"timestamp": t0}},
                {"role": "user", "content": f"Fix issue #{n}: touching intervals overlap.", "extra": {"timestamp": t0}}]
    for i in range(STEPS):
        cmd, call_id = COMMANDS[i % len(COMMANDS)] + f"  # {i}", f"toolu_{n}_{i}"
        messages.append({"role": "assistant", "content": NARRATION[i % len(NARRATION)],
                         "tool_calls": [{"id": call_id, "type": "function",
                                         "function": {"name": "bash", "arguments": json.dumps({"command": cmd})}}],
                         "extra": {"actions": [{"command": cmd, "tool_call_id": call_id}], "cost": 0.002,
                                   "timestamp": t0 + 5 * i + 1,
                                   "response": {"usage": {"prompt_tokens": 2000 + 80 * i, "completion_tokens": 60}}}})
        messages.append({"role": "tool", "tool_call_id": call_id,
                         "content": f"<returncode>1</returncode>\n<output>\n{OUTPUT}\n</output>",
                         "extra": {"raw_output": OUTPUT, "returncode": 1, "timestamp": t0 + 5 * i + 2}})
    messages.append({"role": "exit", "content": "LimitsExceeded",
                     "extra": {"exit_status": "LimitsExceeded", "submission": "", "timestamp": t0 + 5 * STEPS}})
    return {"info": {"model_stats": {"instance_cost": 0.1, "api_calls": STEPS}, "mini_version": "2.1.0",
                     "exit_status": "LimitsExceeded", "config": {"model": {"model_name": "openai/gpt-5-mini"}}},
            "messages": messages, "trajectory_format": "mini-swe-agent-1.1", "instance_id": f"bench-{n}"}


def claude_session(n: int) -> str:
    lines, parent = [], None
    def add(kind, message, k, **extra):
        nonlocal parent
        uid = f"{n:08d}-0000-4000-8000-{k:012d}"
        lines.append(json.dumps({"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": "/w",
                                 "sessionId": f"bench-{n}", "version": "2.0.31", "type": kind, "uuid": uid,
                                 "timestamp": f"2025-11-27T09:{k // 60 % 60:02d}:{k % 60:02d}.000Z",
                                 "message": message, **extra}))
        parent = uid
    add("user", {"role": "user", "content": f"Fix issue #{n}."}, 0)
    for i in range(STEPS):
        tid = f"toolu_{n}_{i}"
        add("assistant", {"id": f"msg_{n}_{i}", "role": "assistant", "model": "claude-sonnet-4-5", "content": [
            {"type": "text", "text": NARRATION[i % len(NARRATION)]}], "usage": {"input_tokens": 10, "output_tokens": 50}}, 3 * i + 1)
        add("assistant", {"id": f"msg_{n}_{i}", "role": "assistant", "model": "claude-sonnet-4-5", "content": [
            {"type": "tool_use", "id": tid, "name": "Bash", "input": {"command": COMMANDS[i % len(COMMANDS)]}}]}, 3 * i + 2)
        add("user", {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid,
                                                  "content": "Exit code 1\n" + OUTPUT, "is_error": True}]}, 3 * i + 3,
            toolUseResult="Error: Exit code 1\n" + OUTPUT)
    return "\n".join(lines) + "\n"


def _baseline(files: list[Path]) -> float:
    t0 = time.perf_counter()
    for f in files:
        if f.suffix == ".jsonl":
            with open(f, encoding="utf-8") as fh:
                [json.loads(line) for line in fh if line.strip()]
        else:
            with open(f, encoding="utf-8") as fh:
                json.load(fh)
    return time.perf_counter() - t0


def _import(*args: str) -> None:
    from testbed.cli import main

    with contextlib.redirect_stdout(io.StringIO()):  # the run directories, one a line
        assert main(["import", *args, "--quiet"]) == 0


def run() -> dict:
    from testbed.scoring import SCORERS, get_scorers, score_run_dir

    tmp = Path(tempfile.mkdtemp(prefix="testbed-bench-import-"))
    try:
        mini_dir, claude_dir, out = tmp / "mini", tmp / "claude", tmp / "runs"
        mini_dir.mkdir()
        claude_dir.mkdir()
        for n in range(N_MINI):
            (mini_dir / f"bench-{n}.traj.json").write_text(json.dumps(mini_trajectory(n), indent=2))
        for n in range(N_CLAUDE):
            (claude_dir / f"bench-{n}.jsonl").write_text(claude_session(n))
        mini_files = sorted(mini_dir.iterdir())
        claude_files = sorted(claude_dir.iterdir())
        mb = sum(f.stat().st_size for f in mini_files) / 1e6

        base_mini = _baseline(mini_files)
        t0 = time.perf_counter()
        _import("mini-swe-agent", str(mini_dir), "--out", str(out / "mini"))
        imp_mini = time.perf_counter() - t0
        t0 = time.perf_counter()
        _import("mini-swe-agent", str(mini_dir), "--out", str(out / "mini"))
        reimport = time.perf_counter() - t0  # everything is skipped: the idempotency check alone

        base_cc = _baseline(claude_files)
        t0 = time.perf_counter()
        _import("claude-code", str(claude_dir), "--out", str(out / "cc"))
        imp_cc = time.perf_counter() - t0

        run_dirs = sorted(p for p in (out / "mini").iterdir() if p.is_dir())
        assert len(run_dirs) == N_MINI
        scorers = get_scorers()
        t0 = time.perf_counter()
        for d in run_dirs:
            score_run_dir(d, scorers)
        score_s = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    per_traj = imp_mini / N_MINI * 1000
    ratio = imp_mini / base_mini
    ratio_cc = imp_cc / base_cc
    print(f"  {N_MINI} mini-swe-agent trajectories x {STEPS} steps ({mb:.0f} MB of JSON)")
    print(f"  baseline json.load of every file: {base_mini:.2f} s ({base_mini / N_MINI * 1000:.2f} ms each)")
    print(f"  testbed import: {imp_mini:.2f} s ({per_traj:.1f} ms a trajectory, "
          f"{imp_mini / (N_MINI * STEPS) * 1e6:.0f} µs a step); ratio import/baseline {ratio:.1f}")
    print(f"  re-import of the same files (all skipped): {reimport:.2f} s")
    print(f"  {N_CLAUDE} Claude Code sessions x {STEPS} steps: import {imp_cc:.2f} s, baseline {base_cc:.3f} s, "
          f"ratio {ratio_cc:.1f}")
    print(f"  testbed score with {sorted(SCORERS) or 'no registered scorers'}: {score_s:.2f} s "
          f"({score_s / N_MINI * 1000:.1f} ms a run)")
    return {
        "trajectories": N_MINI, "steps_each": STEPS, "json_mb": round(mb, 1),
        "baseline_s": round(base_mini, 3), "import_s": round(imp_mini, 3), "ratio": round(ratio, 2),
        "import_ms_per_trajectory": round(per_traj, 2), "reimport_s": round(reimport, 3),
        "claude_sessions": N_CLAUDE, "claude_import_s": round(imp_cc, 3), "claude_baseline_s": round(base_cc, 3),
        "claude_ratio": round(ratio_cc, 2), "scorers": sorted(SCORERS), "score_s": round(score_s, 3),
        "targets": [
            {"name": "import of 1,000 x 50-step trajectories", "value": f"{imp_mini:.1f} s",
             "target": "<= 60 s", "met": imp_mini <= 60},
            {"name": "import / json.load baseline", "value": f"{ratio:.1f}", "target": "<= 60",
             "met": ratio <= 60},
            {"name": "re-import (idempotent skip) of 1,000 files", "value": f"{reimport:.1f} s",
             "target": "<= 1/3 of the import", "met": reimport <= imp_mini / 3},
        ],
    }
