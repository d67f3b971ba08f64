"""The batch directory without Docker: what resume keeps, what it moves aside (never deletes),
and the locks that keep two processes off the same batch or run."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testbed.batch.spec import load_batch_file
from testbed.batch.store import (CRASHED, FAILED, FINISHED, INTERRUPTED, PENDING, BatchBusy, BatchStore,
                                 BatchStoreError, FileLock, inspect_run_dir)
from testbed.log import (EventWriter, Narration, RunFinished, RunStarted, StepEvent, Usage, read_events)

BATCH = """
name = "store"
[matrix]
scenarios = ["interval-off-by-one"]
models = ["simulated"]
seeds = [0, 1, 2, 3, 4]
[knobs]
max_steps = 3
"""


def _write_run(run_dir: Path, steps: int, outcome: str | None, started: bool = True,
               cost: float | None = 0.01) -> None:
    run_dir.mkdir(parents=True)
    rid = run_dir.name
    with EventWriter(run_dir / "events.jsonl", rid) as log:
        if started:
            log.write(RunStarted(run_id=rid, scenario="interval-off-by-one", model="simulated", seed=0))
        for i in range(1, steps + 1):
            log.write(StepEvent(run_id=rid, index=i, narration=Narration(text=f"step {i}"),
                                usage=Usage(cost_usd=cost)))
        if outcome:
            log.write(RunFinished(run_id=rid, outcome=outcome, reason="r", steps=steps, wall_s=1.0,
                                  cost_usd=None if cost is None else round(cost * steps, 6)))


@pytest.fixture
def store(tmp_path):
    f = tmp_path / "b.toml"
    f.write_text(BATCH)
    plan = load_batch_file(f)
    st = BatchStore.create(tmp_path / "out", plan, "store-test")
    yield st, plan
    st.close()


def test_inspect_run_dir_classifies_by_events(tmp_path):
    _write_run(tmp_path / "done", 3, "budget_exhausted")
    _write_run(tmp_path / "int", 2, "interrupted")
    _write_run(tmp_path / "killed", 2, None)
    _write_run(tmp_path / "nostart", 0, "error", started=False)
    _write_run(tmp_path / "unpriced", 2, "gave_up", cost=None)
    assert inspect_run_dir(tmp_path / "done").state == FINISHED
    assert inspect_run_dir(tmp_path / "int").state == INTERRUPTED
    killed = inspect_run_dir(tmp_path / "killed")
    assert killed.state == CRASHED and killed.steps == 2 and killed.cost_usd == pytest.approx(0.02)
    assert inspect_run_dir(tmp_path / "nostart").state == FAILED
    assert inspect_run_dir(tmp_path / "unpriced").cost_usd is None
    assert inspect_run_dir(tmp_path / "absent").state == "absent"


def test_reconcile_keeps_finished_runs_and_moves_the_rest_aside(store):
    st, plan = store
    runs = plan.runs
    for r in runs[:4]:
        st.start_attempt(r.run_id, "local-0", "h", 123)  # the batch was killed with all of these "running"
    _write_run(st.run_dir(runs[0].run_id), 3, "budget_exhausted")
    _write_run(st.run_dir(runs[1].run_id), 2, "interrupted")
    _write_run(st.run_dir(runs[2].run_id), 2, None)          # the worker was killed too
    before = (st.run_dir(runs[0].run_id) / "events.jsonl").read_bytes()
    seen = st.reconcile(lock_wait=0)
    assert seen == {"kept": 1, "moved_aside": 2}
    assert (st.run_dir(runs[0].run_id) / "events.jsonl").read_bytes() == before
    states = {r["run_id"]: r["state"] for r in st.rows()}
    assert states[runs[0].run_id] == FINISHED
    assert states[runs[1].run_id] == INTERRUPTED and states[runs[2].run_id] == CRASHED
    assert states[runs[3].run_id] == CRASHED  # running, but it never wrote a thing
    for r in runs[1:3]:
        moved = st.attempts_dir / r.run_id / "1"
        assert not st.run_dir(r.run_id).exists()
        steps = [e for e in read_events(moved / "events.jsonl").events if e.type == "step"]
        assert [s.index for s in steps] == [1, 2]
        assert st.attempts(r.run_id)[0]["dir"] == str(moved)
    # The money the interrupted and killed attempts spent still counts.
    spent, unknown = st.spent()
    assert spent == pytest.approx(0.03 + 0.02 + 0.02) and unknown == 0
    st.requeue()
    assert [r.run_id for r in st.todo()] == [r.run_id for r in runs[1:]]
    assert {r["state"] for r in st.rows()} == {FINISHED, PENDING}


def test_a_second_attempt_never_overwrites_the_first(store):
    st, plan = store
    rid = plan.runs[0].run_id
    st.start_attempt(rid, "local-0", "h", 1)
    _write_run(st.run_dir(rid), 1, "interrupted")
    st.end_attempt(rid, INTERRUPTED, "interrupted", "r", 1, 0.01)
    st.move_aside_if_present(rid)
    st.start_attempt(rid, "local-0", "h", 1)
    _write_run(st.run_dir(rid), 1, "interrupted")
    st.end_attempt(rid, INTERRUPTED, "interrupted", "r", 1, 0.01)
    st.move_aside_if_present(rid)
    assert sorted(p.name for p in (st.attempts_dir / rid).iterdir()) == ["1", "2"]
    assert [a["dir"] for a in st.attempts(rid)] == [str(st.attempts_dir / rid / "1"),
                                                     str(st.attempts_dir / rid / "2")]


def test_a_run_held_by_a_live_process_is_waited_for(store):
    st, plan = store
    rid = plan.runs[0].run_id
    st.start_attempt(rid, "local-0", "h", 1)
    _write_run(st.run_dir(rid), 1, None)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(st.run_lock(rid))!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BatchBusy, match="still held by another process"):
            st.reconcile(lock_wait=0.3)
        assert st.run_dir(rid).exists()  # nothing was moved while the run was held
    finally:
        holder.kill()
        holder.wait()
    assert st.reconcile(lock_wait=5)["moved_aside"] == 1


def test_one_process_per_batch(store, tmp_path):
    st, plan = store
    st.lock()
    other = BatchStore.open(st.out, plan)
    with pytest.raises(BatchBusy, match=f"pid {os.getpid()}"):
        other.lock()
    st.unlock()
    other.lock()
    other.close()


def test_create_refuses_an_existing_batch_and_open_refuses_a_changed_plan(store, tmp_path):
    st, plan = store
    with pytest.raises(BatchStoreError, match="--resume"):
        BatchStore.create(st.out, plan, "again")
    changed = tmp_path / "changed.toml"
    changed.write_text(BATCH.replace("max_steps = 3", "max_steps = 4"))
    with pytest.raises(BatchStoreError, match="no longer describes the batch"):
        BatchStore.open(st.out, load_batch_file(changed))
    budget_only = tmp_path / "budget.toml"
    budget_only.write_text(BATCH + "[budget]\ntotal_cost_usd = 3\n")
    BatchStore.open(st.out, load_batch_file(budget_only)).close()  # operating settings may change
    with pytest.raises(BatchStoreError, match="holds no batch"):
        BatchStore.open(tmp_path / "nothing-here")


def test_file_lock_is_released_when_its_process_dies(tmp_path):
    path = tmp_path / "x.lock"
    proc = subprocess.Popen([sys.executable, "-c", (
        "import sys; sys.path.insert(0, %r)\n" % str(Path(__file__).resolve().parents[1]) +
        "from testbed.batch.store import FileLock\nimport time\n"
        f"FileLock({str(path)!r}).acquire(note='child')\nprint('ok', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ok"
    lock = FileLock(path)
    assert not lock.acquire(timeout=0.2) and lock.holder_note() == "child"
    proc.kill()
    proc.wait()
    assert lock.acquire(timeout=30)
    lock.release()


def test_an_owner_killed_but_not_yet_reaped_is_not_live():
    from testbed.sandbox.cleanup import owner_is_live
    from testbed.sandbox.docker import LABEL_OWNER_PID, LABEL_OWNER_START, process_start_ticks

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    labels = {LABEL_OWNER_PID: str(proc.pid), LABEL_OWNER_START: process_start_ticks(proc.pid)}
    assert owner_is_live(labels)
    proc.kill()
    # Until it is reaped the process is a zombie: its /proc entry and start time are still there.
    deadline = 100
    while deadline and open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        deadline -= 1
        subprocess.run(["sleep", "0.05"])
    assert process_start_ticks(proc.pid) == labels[LABEL_OWNER_START]
    assert not owner_is_live(labels)
    proc.wait()
    assert not owner_is_live(labels)
