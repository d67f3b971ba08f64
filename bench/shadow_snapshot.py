"""The shadow git's per-step cost on a scenario's workspace: a step that changed nothing and a step
that changed one file, against `git status --porcelain` on a real git index of the same tree (the
least a git-based recorder runs to learn that nothing changed) measured in the same run."""
from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from testbed.sandbox.shadow import ShadowRepo
from testbed.scenario import PROJECT_ROOT

STEPS = 300


def _median_ms(fn, n: int) -> float:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run() -> dict:
    # Under the project, where run directories live by default (a busy /tmp can make every file
    # creation several times dearer, and that is the filesystem's cost, not the recorder's).
    (PROJECT_ROOT / "build").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-shadow-", dir=PROJECT_ROOT / "build"))
    try:
        work = tmp / "work"
        shutil.copytree(PROJECT_ROOT / "sandboxes" / "intervals", work)
        files = sorted(p for p in work.rglob("*") if p.is_file())
        target = next(p for p in files if p.suffix == ".py" and "test" not in p.name)
        env = {"GIT_DIR": str(tmp / "index.git"), "GIT_WORK_TREE": str(work), "GIT_CONFIG_GLOBAL": "/dev/null",
               "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
        subprocess.run(["git", "init", "-q"], env=env, check=True)
        subprocess.run(["git", "add", "-A"], env=env, check=True)
        repo = ShadowRepo(tmp / "shadow.git", work)
        repo.init()
        time.sleep(1.1)  # past the racy-stat window, as every step but the first is in a run
        repo.snapshot("settle")

        unchanged = _median_ms(lambda i: repo.snapshot(f"step {i}"), STEPS)

        def edit(i: int) -> None:
            with open(target, "a") as fh:
                fh.write(f"# step {i}\n")
            snap = repo.snapshot(f"edit {i}")
            assert snap.changed and snap.files_changed == 1, snap

        changed = _median_ms(edit, STEPS)
        status = _median_ms(lambda i: subprocess.run(["git", "status", "--porcelain"], env=env,
                                                     capture_output=True, check=True), 100)
        repo.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    env_unchanged, env_changed = _in_sandbox()
    print(f"  unchanged step: {unchanged:.3f} ms   changed step (one file): {changed:.3f} ms   "
          f"({len(files)} files)")
    print(f"  baseline `git status --porcelain` (nothing written): {status:.3f} ms")
    print(f"  ratios to the baseline: unchanged {unchanged / status:.3f}, changed {changed / status:.3f}")
    print(f"  in a real sandbox (shadow git + the scan for runner files outside the workspace): "
          f"unchanged {env_unchanged:.3f} ms, changed {env_changed:.3f} ms")
    return {"unchanged_ms": round(unchanged, 3), "changed_ms": round(changed, 3),
            "git_status_ms": round(status, 3), "files": len(files),
            "ratio_unchanged": round(unchanged / status, 3), "ratio_changed": round(changed / status, 3),
            "sandbox_unchanged_ms": round(env_unchanged, 3), "sandbox_changed_ms": round(env_changed, 3),
            "targets": [
                {"name": "snapshot, unchanged step", "value": f"{unchanged:.2f} ms", "target": "<= 2 ms",
                 "met": unchanged <= 2},
                {"name": "snapshot, changed step", "value": f"{changed:.2f} ms", "target": "<= 5 ms",
                 "met": changed <= 5},
            ]}


def _in_sandbox() -> tuple[float, float]:
    """The same two steps through `DockerEnvironment.snapshot`, which also asks the sandbox's relay
    for runner files outside the workspace."""
    from testbed.env.docker import DockerEnvironment
    from testbed.scenario import load_scenario
    from testbed.spec import RunSpec
    spec = RunSpec.for_scenario(load_scenario("interval-off-by-one"), "bench", 0)
    tmp = Path(tempfile.mkdtemp(prefix="bench-shadow-env-", dir=PROJECT_ROOT / "build"))
    env = DockerEnvironment(spec.model_copy(update={"run_id": tmp.name}), tmp)
    try:
        env.start()
        env.wait_ready()
        time.sleep(1.1)
        env.snapshot("settle")
        unchanged = _median_ms(lambda i: env.snapshot(f"step {i}"), 100)
        target = next(p for p in sorted(env.paths.workspace.rglob("*.py"))
                      if not any(str(p.relative_to(env.paths.workspace)).startswith(q) for q in spec.task.protected))

        def edit(i: int) -> None:
            with open(target, "a") as fh:
                fh.write(f"# step {i}\n")
            env.snapshot(f"edit {i}")

        changed = _median_ms(edit, 100)
    finally:
        env.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return unchanged, changed


if __name__ == "__main__":
    run()
