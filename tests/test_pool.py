"""A sandbox that is ready before the agent asks: the agent's container boots while the run does
everything else before its first command, and a batch worker boots its next run's sandbox while
the current run goes on. Real containers; every prepared sandbox belongs to one run, is handed out
once, and is removed whenever it is not used."""
from __future__ import annotations

import json
import time
from pathlib import Path

import docker
import pytest

from testbed.batch.messages import Job
from testbed.batch.pool import SandboxPool
from testbed.env.docker import DockerEnvironment
from testbed.runner import run_scenario
from testbed.scenario import load_scenario
from testbed.spec import RunSpec

pytestmark = pytest.mark.docker
SCRIPTS = Path(__file__).parent / "data" / "scripts"
MODEL = f"scripted:{SCRIPTS / 'unpriced-loop.yaml'}"


def _labelled(run_id: str) -> list[dict]:
    return docker.from_env().api.containers(all=True, filters={"label": f"testbed.run={run_id}"})


def _spec(run_id: str, **knobs) -> RunSpec:
    spec = RunSpec.for_scenario(load_scenario("interval-off-by-one"), MODEL, 0, **knobs)
    return spec.model_copy(update={"run_id": run_id, "batch": "pooltest"})


def _job(run_id: str, runs_dir: Path, **knobs) -> Job:
    return Job(run_id=run_id, scenario="interval-off-by-one", model=MODEL, seed=0, knobs=knobs,
               batch="pooltest", runs_dir=str(runs_dir), lock=str(runs_dir / f"{run_id}.lock"))


def test_a_run_boots_its_sandbox_alongside_the_initial_verdict_and_waits_only_for_the_rest(image, runs_dir):
    spec = _spec(f"overlap-{time.time_ns() % 10**8}", max_steps=2)
    run_dir, result = run_scenario(spec, MODEL, DockerEnvironment, runs_dir=runs_dir)
    summary = json.loads((run_dir / "run.json").read_text())
    assert result.steps == 2 and summary["sandbox_pooled"] is False
    assert summary["sandbox_start_ms"] > 0 and summary["sandbox_container"]
    # Booting overlapped the initial verdict, so the run waited less than booting took.
    assert 0 <= summary["sandbox_ready_ms"] < summary["sandbox_start_ms"]
    assert not _labelled(spec.run_id)


def test_a_sandbox_that_cannot_boot_fails_the_run_at_its_first_command_and_leaves_nothing(image, runs_dir,
                                                                                           monkeypatch):
    from testbed.sandbox.docker import DockerSandbox, SandboxError
    real = DockerSandbox.start

    def broken(self):
        real(self)  # the container exists, then something fails: it must still be removed
        raise SandboxError("the relay did not start")

    monkeypatch.setattr(DockerSandbox, "start", broken)
    spec = _spec(f"noboot-{time.time_ns() % 10**8}", max_steps=2)
    env = DockerEnvironment(spec, runs_dir / spec.run_id)
    env.start()
    with pytest.raises(SandboxError, match="the sandbox did not start.*relay did not start"):
        env.exec("true", 5)
    env.close()
    assert not _labelled(spec.run_id)
    assert not Path(env.paths.root).exists()


def test_the_pool_hands_a_prepared_sandbox_to_its_run_once_and_removes_what_is_not_used(image, runs_dir):
    pool = SandboxPool()
    stamp = time.time_ns() % 10**8
    ids = [f"pool-{stamp}-{k}" for k in range(4)]
    for rid in ids:
        pool.prepare(_job(rid, runs_dir, max_steps=2))
    for item in list(pool._items.values()):
        item.thread.join()
    assert all(len(_labelled(rid)) >= 1 for rid in ids)  # booted: agent (and warm verdict) containers

    env = pool.take(_spec(ids[0], max_steps=2), runs_dir / ids[0])
    assert env is not None and env.pooled and not env.booting
    assert pool.take(_spec(ids[0], max_steps=2), runs_dir / ids[0]) is None  # never twice
    env.start()
    assert env.exec("echo ready", 5).output.strip() == "ready"
    assert env.ready_ms < env.start_ms  # it waited for nothing it had not already done
    assert env.describe()["pooled"] is True
    with pytest.raises(RuntimeError, match="already started"):
        env.start()
    env.close()
    assert not _labelled(ids[0])

    # Other sandbox settings than it was built for (a memory limit): not used, and removed.
    assert pool.take(_spec(ids[1], max_steps=2, memory_mb=768), runs_dir / ids[1]) is None
    assert not _labelled(ids[1])
    pool.discard(ids[2])  # the driver gave the run to another worker
    pool.drain()          # the worker leaves: the rest goes too
    assert not _labelled(ids[2]) and not _labelled(ids[3]) and len(pool) == 0
