"""kill -9 of the runner mid-run: the log stays readable and cleanup removes the orphan."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from conftest import ROOT, run_cli
from testbed.log import read_events

pytestmark = pytest.mark.docker
SCRIPT = Path(__file__).parent / "data" / "scripts" / "slow-loop.yaml"


def _containers(run_id):
    return docker.from_env().containers.list(all=True, filters={"label": f"testbed.run={run_id}"})


def _start(runs_dir, run_id):
    return subprocess.Popen(
        [sys.executable, "-m", "testbed", "run", "interval-off-by-one", "--model", f"scripted:{SCRIPT}",
         "--max-steps", "200", "--runs-dir", str(runs_dir), "--run-id", run_id],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_steps(events, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if events.exists() and sum(e.type == "step" for e in read_events(events, strict=False).events) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} steps after {timeout} s")


def test_kill_9_leaves_a_readable_log_and_cleanup_removes_the_container(image, runs_dir):
    run_id = f"kill-test-{os.getpid()}"
    proc = _start(runs_dir, run_id)
    events = runs_dir / run_id / "events.jsonl"
    try:
        _wait_for_steps(events, 4)
        assert _containers(run_id), "the run's container should be up"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    read = read_events(events)  # strict: every complete line is valid; a torn tail is tolerated
    steps = [e for e in read.events if e.type == "step"]
    assert len(steps) >= 4 and [s.index for s in steps] == list(range(1, len(steps) + 1))
    assert not any(e.type == "run_finished" for e in read.events)
    assert _containers(run_id), "kill -9 cannot clean up: the container is orphaned"
    res = run_cli("cleanup")
    assert res.returncode == 0, res.stderr
    assert not _containers(run_id)


def test_the_next_run_sweeps_what_a_killed_run_left_and_report_names_it(image, runs_dir):
    from testbed.sandbox.quota import mounts_below
    from testbed.sandbox.workspace import work_root
    run_id = f"sweep-test-{os.getpid()}"
    proc = _start(runs_dir, run_id)
    try:
        _wait_for_steps(runs_dir / run_id / "events.jsonl", 3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    work = work_root() / run_id
    assert _containers(run_id) and work.is_dir()  # agent and verdict containers, workspace, quota mounts
    res = run_cli("run", "interval-off-by-one", "--model", "simulated", "--max-steps", "1",
                  "--runs-dir", str(runs_dir / "other"))
    assert res.returncode == 0, res.stderr
    assert f"of {run_id}" in res.stderr and "dead run(s) left behind" in res.stderr
    assert not _containers(run_id) and not work.exists() and not mounts_below(work)
    res = run_cli("report", str(runs_dir), "--no-score", "--json", str(runs_dir / "r.json"))
    assert "never finished" in res.stderr and "its process died" in res.stderr
    import json
    inputs = json.loads((runs_dir / "r.json").read_text())["inputs"]
    assert inputs["runs_unfinished"] == 1 and inputs["unfinished"][0]["path"].endswith(run_id)


def test_sigterm_marks_the_run_interrupted_and_cleans_up(image, runs_dir):
    run_id = f"term-test-{os.getpid()}"
    proc = _start(runs_dir, run_id)
    events = runs_dir / run_id / "events.jsonl"
    _wait_for_steps(events, 3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    read = read_events(events)
    assert read.events[-1].type == "run_finished" and read.events[-1].outcome == "interrupted"
    assert not _containers(run_id)


def test_cleanup_spares_live_runs(image, runs_dir):
    run_id = f"live-test-{os.getpid()}"
    proc = _start(runs_dir, run_id)
    try:
        _wait_for_steps(runs_dir / run_id / "events.jsonl", 2)
        run_cli("cleanup")
        assert _containers(run_id), "a live run's container must survive cleanup"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert not _containers(run_id)


def test_a_burst_of_signals_still_ends_the_run_interrupted_and_clean(image, runs_dir):
    """A driver that dies sends its worker SIGTERM twice (the kernel's parent-death signal, then the
    worker's own parent watch); a user may press Ctrl-C twice. A signal that lands while the first
    one's handling runs must not turn the outcome into `error` or leave a container."""
    run_id = f"burst-test-{os.getpid()}"
    proc = _start(runs_dir, run_id)
    events = runs_dir / run_id / "events.jsonl"
    _wait_for_steps(events, 3)
    for _ in range(200):
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.002)
    proc.wait(timeout=60)
    read = read_events(events)
    assert read.events[-1].type == "run_finished" and read.events[-1].outcome == "interrupted"
    assert not any(e.type == "error" for e in read.events)
    assert not _containers(run_id)
