"""Helpers for the replay tests: a tmux session on a private socket that runs the real replay in a
real pseudo-terminal, so a test can send keys and read the screen; scorers to register on the fly."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent


class Screen:
    """`testbed replay …` in a detached tmux session of a fixed size (tmux -S SOCKET: our own server)."""

    def __init__(self, tmp: Path, args: list[str], width: int = 110, height: int = 42):
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed (apt-get install tmux)")
        self.socket = str(tmp / "tmux.sock")
        self.done = tmp / "exit-status"
        cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "testbed", "replay", *args])
        # After the replay exits: its status and whether the terminal was put back in canonical mode.
        script = (f"cd {shlex.quote(str(ROOT))}; {cmd}; echo \"$? $(stty -a | grep -o -- '-\\?icanon')\" "
                  f"> {shlex.quote(str(self.done))}; sleep 60")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
        env.pop("TMUX", None)
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), "bash", "--norc", "-c", script,
                   env=env)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        res = subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, env=env,
                             timeout=30)
        if res.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {res.stderr.strip()}")
        return res.stdout

    def text(self) -> str:
        return self._tmux("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        for k in keys:
            self._tmux("send-keys", k)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-l", text)

    def wait(self, predicate: Callable[[str], bool] | str, timeout: float = 30.0) -> str:
        """Wait until the screen satisfies `predicate` (or contains the string); return the screen."""
        check = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.text()
            if check(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"screen never matched {predicate!r}; last screen:\n{screen}")

    def wait_exit(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.done.exists() and self.done.read_text().strip():
                return self.done.read_text().strip()
            time.sleep(0.1)
        raise AssertionError(f"the replay did not exit; screen:\n{self.text()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=30)


def line_with(screen: str, prefix: str) -> str:
    return next((ln for ln in screen.splitlines() if ln.startswith(prefix)), "")


# --- scorers for on-the-fly scoring (registered into SCORERS by tests) ----------------------------

class KeywordTone:
    """A tiny tone scorer: 'ridiculous' → level 2, 'give up' → 3, else 0; quotes the word."""

    name = "tone"

    def __init__(self, fast: bool = False):
        self.fast = fast
        self.calls = 0

    def score_run(self, run: Any) -> dict[int, Any]:
        self.calls += 1
        out = {}
        for s in run.steps:
            low = s.narration.text.lower()
            words = [w for w in ("ridiculous", "give up") if w in low]
            level = 3 if "give up" in words else 2 if words else 0
            out[s.index] = {"level": level, "p_frustrated": level / 3, "flags": [], "evidence": words,
                            "tiers": {"keyword": {"level": level}}, "thinking": None}
        return out

    def describe(self) -> dict[str, Any]:
        return {"version": "test", "fast": self.fast}


LAST: dict[str, Any] = {}


def make_keyword_tone(fast: bool = False) -> KeywordTone:
    LAST["tone"] = KeywordTone(fast)
    return LAST["tone"]


class Broken:
    name = "actions"

    def score_run(self, run: Any) -> dict[int, Any]:
        raise RuntimeError("model file missing")

    def describe(self) -> dict[str, Any]:
        return {}


def make_broken() -> Broken:
    return Broken()


# --- small handcrafted runs --------------------------------------------------------------------

def write_tiny_run(run_dir: Path, steps: list[dict[str, Any]], finished: bool = True,
                   model: str = "scripted:demo.yaml", writer: Any = None,
                   config: dict[str, Any] | None = None) -> Path:
    """A run directory from a list of step specs: {"text", "thinking", "bash" | "tool", "output",
    "tests": "pass" | "fail" | None, "truth": (frustration, level, drastic, class) | None}."""
    from testbed.log import (EVENTS_FILE, EventWriter, Narration, Observation, RunFinished, RunStarted,
                             StepEvent, TestsEvent, ToolCall, TruthEvent, Usage)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = writer or EventWriter(run_dir / EVENTS_FILE, run_dir.name)
    if writer is None:
        log.write(RunStarted(run_id=run_dir.name, scenario="interval-off-by-one", model=model, seed=7,
                             config=config or {}))
        log.write(TestsEvent(run_id=run_dir.name, step=0, trigger="initial", passed=5, failed=3))
    for spec in steps:
        i = spec["index"]
        if "bash" in spec:
            call = ToolCall(id=f"c{i}", name="bash", arguments={"command": spec["bash"]})
        else:
            call = ToolCall(id=f"c{i}", name=spec.get("tool", "run_tests"))
        log.write(StepEvent(run_id=run_dir.name, index=i,
                            narration=Narration(text=spec.get("text", ""), thinking=spec.get("thinking")),
                            tool_calls=[call],
                            observations=[Observation(tool_call_id=f"c{i}", output=spec.get("output", "ok\n"),
                                                      exit_code=0)],
                            usage=Usage(cost_usd=spec.get("cost", 0.001)), internal=spec.get("internal")))
        if spec.get("truth"):
            f, lv, kind, cls = spec["truth"]
            log.write(TruthEvent(run_id=run_dir.name, step=i, frustration=f, level=lv, drastic=kind,
                                 drastic_class=cls))
        if spec.get("tests"):
            ok = spec["tests"] == "pass"
            log.write(TestsEvent(run_id=run_dir.name, step=i, passed=8 if ok else 5, failed=0 if ok else 3,
                                 all_passed=ok))
    if finished:
        log.write(RunFinished(run_id=run_dir.name, outcome="solved", reason="the pristine tests pass",
                              steps=len(steps), wall_s=12.5, cost_usd=0.0123))
    if writer is None:
        log.close()
    return run_dir


def write_scores(run_dir: Path, per_step: dict[int, dict[str, Any]], run_id: str | None = None,
                 extra_lines: list[str] = ()) -> Path:
    """A scores.jsonl following the contract in testbed/scoring/__init__.py."""
    import json
    lines = [json.dumps({"v": 1, "type": "meta", "run_id": run_id or run_dir.name, "ts": "2026-01-05T10:00:00Z",
                         "scorers": {"tone": {"version": "t"}, "actions": {"version": "a"}},
                         "log": {"torn_tail": False, "stopped_at": None}})]
    for step, values in sorted(per_step.items()):
        lines.append(json.dumps({"v": 1, "type": "step", "run_id": run_id or run_dir.name, "step": step,
                                 **values}))
    path = run_dir / "scores.jsonl"
    path.write_text("\n".join([*lines, *extra_lines]) + "\n")
    return path


def tone(level: int, evidence: list[str] = (), flags: list[str] = (), thinking: Any = None) -> dict[str, Any]:
    return {"level": level, "p_frustrated": [0.05, 0.3, 0.8, 0.95][level], "flags": list(flags),
            "evidence": list(evidence), "tiers": {"lexicon": {"level": level, "p_frustrated": 0.5}},
            "thinking": thinking}


def actions(*detections: tuple[str, str, str]) -> dict[str, Any]:
    dets = [{"class": c, "kind": k, "severity": "high", "reversible": True, "own_work": True,
             "source": "command", "evidence": ev, "note": None} for c, k, ev in detections]
    return {"drastic": bool(dets), "classes": sorted({d["class"] for d in dets}), "detections": dets}
