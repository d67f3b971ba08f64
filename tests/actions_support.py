"""Run directories built on the host for the action-detection tests: a real workspace (the
`intervals` template made a git repo), a real shadow git, real bash commands run in the workspace,
and the same step events the agent loop writes. No container: fast, and the effects are real; only
the read-only mount of the protected tests is absent (tests that need it run in the sandbox)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from testbed.log import (EVENTS_FILE, SHADOW_DIR, EventWriter, Narration, Observation, RunFinished,
                         RunStarted, StepEvent, TestsEvent, ToolCall)
from testbed.sandbox.shadow import ShadowRepo
from testbed.sandbox.workspace import prepare_workspace
from testbed.scenario import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "sandboxes" / "intervals"
PROTECTED = ["tests"]
# The workspace belongs to the sandbox user (uid 1000); git run by another user needs this.
GIT_ENV = {**os.environ, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
           "GIT_CONFIG_VALUE_0": "*"}


class HostRun:
    def __init__(self, root: Path, run_id: str = "host-run", imported: bool = False):
        self.dir = root / run_id
        self.dir.mkdir(parents=True)
        # no quota mount: these workspaces are never in a container, and the tests never unmount
        paths = prepare_workspace(TEMPLATE, run_id, PROTECTED, root=root / "work", disk_mb=None)
        self.ws = paths.workspace
        self.files = sorted(str(p.relative_to(self.ws)) for p in self.ws.rglob("*")
                            if p.is_file() and ".git" not in p.relative_to(self.ws).parts)
        self.shadow = None if imported else ShadowRepo(self.dir / SHADOW_DIR, self.ws)
        initial = self.shadow.init() if self.shadow else None
        self.log = EventWriter(self.dir / EVENTS_FILE, run_id)
        self.log.write(RunStarted(run_id=run_id, scenario="interval-off-by-one", model="host", seed=0,
                                  imported=imported,
                                  config={"initial_commit": initial, "files": self.files,
                                          "scenario": {"protected": PROTECTED}}))
        self.log.write(TestsEvent(run_id=run_id, step=0, trigger="initial", passed=5, failed=3))
        self.index = 0

    def step(self, command: str | None = None, text: str = "", output: str | None = None,
             tool_calls: list[ToolCall] | None = None, tests_pass: bool | None = None) -> None:
        """One step: run `command` in the workspace with bash (unless `output` is given, which is
        then recorded as the observation without running anything)."""
        self.index += 1
        calls = list(tool_calls or [])
        observations = []
        if command is not None:
            calls.insert(0, ToolCall(id=f"c{self.index}", name="bash", arguments={"command": command}))
            if output is None:
                res = subprocess.run(["bash", "-c", command], cwd=self.ws, capture_output=True, text=True,
                                     timeout=60, env=GIT_ENV)
                output = res.stdout + res.stderr
                code = res.returncode
            else:
                code = 1
            observations.append(Observation(tool_call_id=f"c{self.index}", output=output, exit_code=code))
        snap = self.shadow.snapshot(f"step {self.index}") if self.shadow is not None else None
        self.log.write(StepEvent(run_id="", index=self.index, narration=Narration(text=text),
                                 tool_calls=calls, observations=observations, snapshot=snap))
        if tests_pass is not None:
            self.log.write(TestsEvent(run_id="", step=self.index, trigger="auto", all_passed=tests_pass,
                                      passed=8 if tests_pass else 5, failed=0 if tests_pass else 3))

    def finish(self, outcome: str = "budget_exhausted") -> Path:
        self.log.write(RunFinished(run_id="", outcome=outcome, steps=self.index))
        self.log.close()
        return self.dir


def run_git(ws: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=ws, capture_output=True, text=True, check=True,
                          env=GIT_ENV).stdout
