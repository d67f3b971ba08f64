"""`DockerEnvironment`: the real sandbox behind the `Environment` seam."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from testbed.env import CheckResult
from testbed.log import SHADOW_DIR, Snapshot
from testbed.sandbox import ExecResult
from testbed.sandbox.shadow import ShadowRepo
from testbed.sandbox.verdict import verdict_from
from testbed.sandbox.workspace import WorkspacePaths


def template_dir(name: str) -> Path:
    from testbed.scenario import PROJECT_ROOT
    return PROJECT_ROOT / "sandboxes" / name


class DockerEnvironment:
    isolation = "docker"

    def __init__(self, spec: Any, run_dir: Path, client: Any = None, image: str | None = None,
                 work_key: str | None = None):
        self.spec = spec
        self.run_dir = Path(run_dir)
        self.run_id = spec.run_id or self.run_dir.name
        self.work_key = work_key or self.run_id  # the work directory's name under work_root()
        self.pooled = False
        self.client = client
        self.image = image
        self.reference_patch = spec.task.reference_patch
        self.paths: WorkspacePaths | None = None
        self.shadow: ShadowRepo | None = None
        self.sandbox: Any = None
        self.verdict: Any = None
        self.initial_commit = ""
        self.files: list[str] = []
        self._setup: ExecResult | None = None
        self._boot: threading.Thread | None = None
        self._boot_error: BaseException | None = None
        self._waited_ms = 0.0
        self._outside: dict[str, tuple] = {}
        self._checks = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def provision(self) -> None:
        """Everything that does not need the run directory: the workspace, the verdict runner, and
        the agent's container, which boots in a thread (`exec` and friends wait for it). A batch
        worker calls this for its next run while the current one goes on; `start` calls it when
        nobody did."""
        from testbed.sandbox.docker import DockerSandbox, docker_client
        from testbed.sandbox.image import ensure_image
        from testbed.sandbox.verdict import VerdictRunner
        from testbed.sandbox.workspace import prepare_workspace, write_env_list

        if self.paths is not None:
            return
        spec, task, lim = self.spec, self.spec.task, self.spec.limits
        self.client = self.client or docker_client()
        self.image = self.image or ensure_image(quiet=False)
        self.paths = prepare_workspace(template_dir(task.template), self.work_key, task.protected,
                                       disk_mb=lim.disk_mb)
        write_env_list(self.paths, task.env)
        self.verdict = VerdictRunner(self.client, self.image, self.paths, self.run_id, task.protected,
                                     task.test_command, memory_mb=lim.memory_mb, cpus=lim.cpus,
                                     pids=lim.pids, batch=spec.batch)
        self.verdict.warm()  # the first verdict container starts while everything else does
        self.sandbox = DockerSandbox(self.image, self.paths, self.run_id, task.protected,
                                     memory_mb=lim.memory_mb, cpus=lim.cpus, pids=lim.pids, env=task.env,
                                     batch=spec.batch, client=self.client)
        self._boot = threading.Thread(target=self._boot_sandbox, name=f"boot-{self.run_id}", daemon=True)
        self._boot.start()

    def _boot_sandbox(self) -> None:
        try:
            self.sandbox.start()
            if self.spec.task.setup:
                self._setup = self.sandbox.exec(self.spec.task.setup, timeout=self.spec.budget.command_timeout)
        except BaseException as exc:  # raised where the run first needs the sandbox
            self._boot_error = exc

    def wait_ready(self) -> None:
        """Block until the agent's container answers; re-raise what stopped it from starting."""
        if self._boot is None:
            raise RuntimeError("the environment was not started")
        if self._boot.is_alive():
            t0 = time.perf_counter()
            self._boot.join()
            self._waited_ms += (time.perf_counter() - t0) * 1000
        if self._boot_error is not None:
            from testbed.sandbox.docker import SandboxError
            raise SandboxError(f"the sandbox did not start: {type(self._boot_error).__name__}: "
                               f"{self._boot_error}") from self._boot_error

    @property
    def booting(self) -> bool:
        return self._boot is not None and self._boot.is_alive()

    def adopt(self, spec: Any, run_dir: Path, waited_ms: float = 0.0) -> None:
        """A sandbox prepared ahead (testbed/batch/pool.py) becomes this run's."""
        if self.shadow is not None:
            raise RuntimeError("this environment has already started a run")
        self.spec, self.run_dir, self.pooled = spec, Path(run_dir), True
        self._waited_ms = waited_ms  # what the run waited for; the pool's own wait was no one's

    def start(self) -> None:
        if self.shadow is not None:
            raise RuntimeError("this environment has already started a run")
        self.provision()
        self.shadow = ShadowRepo(self.run_dir / SHADOW_DIR, self.paths.workspace)
        self.initial_commit = self.shadow.init()
        self.files = sorted(os.fsdecode(rel) for rel, _, _ in
                            self.shadow.entries(self.shadow.tree_of(self.initial_commit)))

    @property
    def setup_result(self) -> ExecResult | None:
        if not self.spec.task.setup:
            return None
        self.wait_ready()
        return self._setup

    def close(self) -> None:
        from testbed.sandbox.workspace import remove_workspace
        if self.shadow is not None:
            self.shadow.close()
        try:
            if self._boot is not None:
                self._boot.join()  # a container still being created must be removed, not left
            if self.sandbox is not None:
                self.sandbox.close()
        finally:
            try:
                if self.verdict is not None:
                    self.verdict.close()
            finally:
                if self.paths is not None:
                    remove_workspace(self.paths)

    def describe(self) -> dict[str, Any]:
        from testbed.sandbox.docker import WRITABLE
        lim = self.spec.limits
        return {"kind": "docker", "isolation": "container", "image": self.image,
                "network": "none", "read_only_root": True,
                "limits": {"memory_mb": lim.memory_mb, "cpus": lim.cpus, "pids": lim.pids},
                "quota_mb": {"workspace": self.paths.quota_mb if self.paths else None, **WRITABLE},
                "verdict": "fresh container per check; JUnit report; pinned pytest",
                "pooled": self.pooled}

    def docker_version(self) -> str | None:
        try:
            return self.client.version().get("Version")
        except Exception:
            return None

    @property
    def ready_ms(self) -> float | None:
        """How long the run waited for its sandbox: booting overlaps the initial verdict, the model's
        start and its first reply, so this is the part that did not overlap (0 for a pooled one)."""
        return None if self._boot is None else round(self._waited_ms, 3)

    @property
    def container_id(self) -> str | None:
        c = getattr(self.sandbox, "container", None)
        return getattr(c, "id", None)

    @property
    def start_ms(self) -> float | None:
        """What booting the agent's container cost (container start, relay, shell)."""
        return getattr(self.sandbox, "ready_ms", None)

    # -- the agent's side --------------------------------------------------------------------------
    def exec(self, command: str, timeout: float) -> ExecResult:
        self.wait_ready()
        return self.sandbox.exec(command, timeout=timeout)

    def snapshot(self, message: str) -> Snapshot:
        assert self.shadow is not None
        snap = self.shadow.snapshot(message)
        snap.outside = self._outside_changes()
        return snap

    def _outside_changes(self) -> list[dict]:
        """Runner files outside the workspace that are new or changed since the last look."""
        self.wait_ready()
        now = {f["path"]: (f.get("size"), f.get("mtime"), f.get("kind")) for f in self.sandbox.outside_files()}
        changed = [{"path": p, "kind": v[2], "size": v[0], "status": "A" if p not in self._outside else "M"}
                   for p, v in sorted(now.items()) if self._outside.get(p) != v]
        changed += [{"path": p, "kind": v[2], "size": v[0], "status": "D"}
                    for p, v in sorted(self._outside.items()) if p not in now]
        self._outside = now
        return changed

    def restore(self, commit: str) -> None:
        """The workspace's files := the commit's; the agent's .git is the initial commit's."""
        from testbed.sandbox.workspace import AGENT_GID, AGENT_UID, chown_tree, clear_dir
        assert self.shadow is not None and self.paths is not None
        tree = self.shadow.tree_of(commit)
        self.wait_ready()
        with self.sandbox.frozen():
            clear_dir(self.paths.workspace)
            self.shadow.materialize(tree, self.paths.workspace)
            _init_agent_git(self.paths.workspace, self.shadow, self.initial_commit)
            if os.geteuid() == 0:
                chown_tree(self.paths.workspace, AGENT_UID, AGENT_GID)
        self.shadow.set_head(commit)

    def diff(self, old: str, new: str, path: str | None = None) -> str:
        assert self.shadow is not None
        return self.shadow.diff(old, new, path)

    # -- the harness's side ------------------------------------------------------------------------
    def check(self, seed: int) -> CheckResult:
        assert self.shadow is not None and self.paths is not None
        if self.booting and not self.spec.task.setup:
            # Nothing of the agent's has run yet (every exec waits for the boot), so the tree is
            # the harness's own: no need to wait for the container to freeze it.
            cap, background = self.shadow.capture(), []
        else:
            self.wait_ready()
            with self.sandbox.frozen():
                cap = self.shadow.capture()
                background = self.sandbox.background_processes()
        shadow = self.shadow

        def write(dest: Path) -> str:
            shadow.materialize(cap.tree, dest)
            return cap.tree

        result = self._run_verdict(write, seed)
        if self.verdict.reference is None and self._checks == 1:
            evidence = self.verdict.last_evidence
            if not self.verdict.set_reference(result, "initial") and self.reference_patch:
                self._reference_from_patch(seed)
                again = verdict_from(evidence, self.verdict.reference, result.output)
                again.duration_ms, again.tree, again.lingering = result.duration_ms, result.tree, result.lingering
                result = again
        return CheckResult(**vars(result), background=background, omitted=cap.omitted)

    def _run_verdict(self, write: Any, seed: int) -> Any:
        self._checks += 1
        return self.verdict.run(write, seed, self.spec.budget.test_timeout)

    def _reference_from_patch(self, seed: int) -> None:
        """The pristine suite as the scenario's reference patch collects it (when the untouched
        template cannot even be collected)."""
        assert self.shadow is not None
        shadow, patch = self.shadow, self.reference_patch or ""

        def write(dest: Path) -> str | None:
            shadow.materialize(shadow.tree_of(self.initial_commit), dest)
            subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], input=patch.encode(), cwd=dest,
                           capture_output=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                     "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(dest)})
            return None

        ref = self.verdict.run(write, seed, self.spec.budget.test_timeout)
        self.verdict.set_reference(ref, "reference_patch")


def _init_agent_git(workspace: Path, shadow: ShadowRepo, initial: str) -> None:
    """A fresh `.git` in the workspace whose one commit is the template (as at the run's start)."""
    from testbed.sandbox.workspace import _FIXED_ENV
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "t"
        shadow.materialize(shadow.tree_of(initial), base)
        env = {**os.environ, **_FIXED_ENV}
        for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                     ["-c", "commit.gpgsign=false", "commit", "-q", "-m", "initial"]):
            subprocess.run(["git", *args], cwd=base, env=env, capture_output=True, check=True)
        subprocess.run(["rm", "-rf", str(workspace / ".git")], check=True)
        shutil.move(str(base / ".git"), str(workspace / ".git"))  # across filesystems (a quota mount)

