"""`LocalEnvironment`: a temporary directory and a local bash.

**No isolation.** The agent's commands run on this machine as the current user, with its network
and its files; `rm -rf ~` would do exactly that. Use it for the loop's unit tests and for
development with trusted scripted or simulated models only. Everything else matches the Docker
environment: the same shadow git, the same pristine tree preparation and the same pinned pytest
runner read through its JUnit report, so the conformance suite holds for both.
"""
from __future__ import annotations

import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testbed.env import CheckResult
from testbed.env.docker import _init_agent_git, template_dir
from testbed.log import SHADOW_DIR, Snapshot
from testbed.sandbox import ExecResult, safefs
from testbed.sandbox.output import head_tail
from testbed.sandbox.shadow import ShadowRepo
from testbed.sandbox.verdict import (REPORT_LIMIT, Reference, code_tamper, harness_pytest_ini, prepare_tree,
                                     python_files,
                                     read_evidence, reference_from, verdict_from)
from testbed.sandbox.workspace import _FIXED_ENV, _TEMPLATE_IGNORE, check_protected, clear_dir


class _LocalShell:
    """A persistent bash whose commands are sourced from a file; completion comes on a pipe."""

    def __init__(self, cwd: Path, scratch: Path, env: dict[str, str]):
        self.cwd, self.scratch, self.env = cwd, scratch, env
        self.proc: subprocess.Popen | None = None
        self.done_r: int | None = None

    def start(self) -> None:
        r, w = os.pipe()
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.cwd,
                                     env=self.env, pass_fds=(w,), start_new_session=True)
        os.close(w)
        self.done_r = r
        self.fd = w  # the descriptor's number in bash

    def run(self, command: str, timeout: float) -> tuple[int | None, bool]:
        assert self.proc is not None and self.proc.stdin is not None and self.done_r is not None
        nonce = secrets.token_hex(8)
        (self.scratch / "cmd.sh").write_text(command if command.endswith("\n") else command + "\n")
        line = (f"builtin . {self.scratch}/cmd.sh > {self.scratch}/out 2>&1 < /dev/null; "
                f"builtin printf '%s %s\\n' {nonce} \"$?\" >&{self.fd}\n")
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None, False
        deadline = time.monotonic() + timeout
        buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, True
            ready, _, _ = select.select([self.done_r], [], [], min(left, 0.2))
            if not ready:
                if self.proc.poll() is not None:
                    return None, False
                continue
            chunk = os.read(self.done_r, 4096)
            if not chunk:
                return None, False
            buf += chunk
            for ln in buf.split(b"\n"):
                parts = ln.split()
                if len(parts) == 2 and parts[0] == nonce.encode():
                    return int(parts[1]), False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self.done_r is not None:
            os.close(self.done_r)
            self.done_r = None


class LocalEnvironment:
    isolation = "none"

    def __init__(self, spec: Any, run_dir: Path, **_: Any):
        self.spec = spec
        self.run_dir = Path(run_dir)
        self.root: Path | None = None
        self.shadow: ShadowRepo | None = None
        self.shell: _LocalShell | None = None
        self.initial_commit = ""
        self.files: list[str] = []
        self.setup_result: ExecResult | None = None
        self.reference: Reference | None = None
        self._checks = 0
        self.ready_ms: float | None = None

    @property
    def workspace(self) -> Path:
        assert self.root is not None
        return self.root / "workspace"

    def start(self) -> None:
        t0 = time.perf_counter()
        task = self.spec.task
        template = template_dir(task.template)
        check_protected(template, task.protected)
        self.root = Path(tempfile.mkdtemp(prefix="testbed-local-"))
        shutil.copytree(template, self.workspace, ignore=_TEMPLATE_IGNORE, symlinks=True)
        shutil.copytree(template, self.root / "pristine", ignore=_TEMPLATE_IGNORE, symlinks=True)
        for d in ("scratch", "check", "out", "plugin"):
            (self.root / d).mkdir()
        shutil.copy2(Path(__file__).parent.parent / "sandbox" / "testbed_guard.py", self.root / "plugin")
        env = {**os.environ, **_FIXED_ENV}
        for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                     ["-c", "commit.gpgsign=false", "commit", "-q", "-m", "initial"]):
            subprocess.run(["git", *args], cwd=self.workspace, env=env, capture_output=True, check=True)
        self.py_files = python_files(self.root / "pristine")
        (self.root / "pytest.ini").write_text(
            harness_pytest_ini(self.root / "pristine").replace("/workspace", str(self.root / "check")))
        self.shadow = ShadowRepo(self.run_dir / SHADOW_DIR, self.workspace)
        self.initial_commit = self.shadow.init()
        self.files = sorted(os.fsdecode(r) for r, _, _ in self.shadow.entries(self.shadow.tree_of(self.initial_commit)))
        self.shell = _LocalShell(self.workspace, self.root / "scratch", self._shell_env())
        self.shell.start()
        self.ready_ms = (time.perf_counter() - t0) * 1000
        if task.setup:
            self.setup_result = self.exec(task.setup, self.spec.budget.command_timeout)

    def _shell_env(self) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)
        return {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(self.root),
                "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **self.spec.task.env}

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "isolation": "none",
                "warning": "commands ran on the host without a sandbox (tests and development only)"}

    def close(self) -> None:
        if self.shadow is not None:
            self.shadow.close()
        if self.shell is not None:
            self.shell.kill()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def exec(self, command: str, timeout: float) -> ExecResult:
        assert self.shell is not None and self.root is not None
        t0 = time.monotonic()
        rc, timed_out = self.shell.run(command, timeout)
        notes = []
        restarted = rc is None
        if restarted:
            self.shell.kill()
            notes.append((f"command timed out after {timeout:g} s and was killed; " if timed_out else
                          "the command did not finish; ")
                         + "the shell was restarted: the working directory and environment variables were reset")
            self.shell.start()
        raw = safefs.read_regular(self.root, "scratch/out", 1 << 26) or b""
        text, truncated = head_tail(raw)
        for n in notes:
            text += f"\n[{n}]"
        return ExecResult(output=text, exit_code=rc, duration_ms=(time.monotonic() - t0) * 1000,
                          truncated=truncated, timed_out=timed_out, output_bytes=len(raw),
                          shell_restarted=restarted, notes=notes)

    def snapshot(self, message: str) -> Snapshot:
        assert self.shadow is not None
        return self.shadow.snapshot(message)

    def restore(self, commit: str) -> None:
        assert self.shadow is not None
        clear_dir(self.workspace)
        self.shadow.materialize(self.shadow.tree_of(commit), self.workspace)
        _init_agent_git(self.workspace, self.shadow, self.initial_commit)
        self.shadow.set_head(commit)

    def diff(self, old: str, new: str, path: str | None = None) -> str:
        assert self.shadow is not None
        return self.shadow.diff(old, new, path)

    def check(self, seed: int) -> CheckResult:
        assert self.shadow is not None and self.root is not None
        t0 = time.perf_counter()
        cap = self.shadow.capture()
        tree, out = self.root / "check", self.root / "out"
        clear_dir(tree)
        clear_dir(out)
        self.shadow.materialize(cap.tree, tree)
        prepare_tree(tree, self.root / "pristine", self.spec.task.protected)
        found = code_tamper(tree, self.root / "pristine", self.spec.task.protected)
        self._checks += 1
        env = {"PATH": self._shell_env()["PATH"], "HOME": str(self.root), "LANG": "C.UTF-8",
               **self.spec.task.env, "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONSAFEPATH": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
               "PYTHONPATH": str(self.root / "plugin"), "TESTBED_GUARD_OUT": str(out),
               "PYTEST_ADDOPTS": (f"-p no:cacheprovider -p testbed_guard -c {self.root}/pytest.ini "
                                  f"--rootdir={tree} --confcutdir={tree} --junitxml={out}/junit.xml"),
               "TESTBED_SEED": str(seed)}
        timeout = self.spec.budget.test_timeout
        timed_out = False
        with open(out / "out", "wb") as fh:
            proc = subprocess.Popen(["bash", "-c", self.spec.task.test_command], cwd=tree, env=env, stdout=fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                rc: int | None = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out, rc = True, None
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        raw = safefs.read_regular(out, "out", REPORT_LIMIT) or b""
        v = verdict_from(read_evidence(out, rc, timed_out, self.py_files, found), self.reference, head_tail(raw)[0])
        result = CheckResult(**vars(v), omitted=cap.omitted)
        result.duration_ms, result.tree = (time.perf_counter() - t0) * 1000, cap.tree
        if self._checks == 1 and self.reference is None:
            self.reference = reference_from(result, "initial")
        return result
