"""`testbed batch` end to end with real sandboxes: the matrix runs, resume never duplicates a run,
kill -9 loses nothing, budgets stop new runs, a broken model fails only its own runs, Ctrl-C drains
then interrupts."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import docker
import pexpect
import pytest

from conftest import ROOT, run_cli
from testbed.log import read_events

pytestmark = pytest.mark.docker
SCRIPTS = Path(__file__).parent / "data" / "scripts"
PRICEY = f"scripted:{SCRIPTS / 'pricey-loop.yaml'}"
UNPRICED = f"scripted:{SCRIPTS / 'unpriced-loop.yaml'}"
SLOW = f"scripted:{SCRIPTS / 'slow-loop.yaml'}"


def _batch_file(tmp_path: Path, models: list, seeds: list[int], max_steps: int, concurrency: int,
                budget: str = "", name: str = "b") -> Path:
    entries = ", ".join(m if m.startswith("{") else json.dumps(m) for m in models)
    text = (f'name = "{name}"\nconcurrency = {concurrency}\noutput = "{tmp_path / "out"}"\n'
            f'[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = [{entries}]\nseeds = {seeds}\n'
            f'[knobs]\nmax_steps = {max_steps}\n' + (f"[budget]\n{budget}\n" if budget else ""))
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def _db(out: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{out / 'batch.sqlite'}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    return db


def _rows(out: Path, sql: str, *args) -> list[sqlite3.Row]:
    db = _db(out)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _batch_id(out: Path) -> str:
    return json.loads((out / "batch.json").read_text())["batch_id"]


def _containers(batch_id: str) -> list[str]:
    # The low-level listing: `containers.list()` inspects each container after listing it, and a
    # container that a worker removes in between would raise NotFound.
    found = docker.from_env().api.containers(all=True, filters={"label": f"testbed.batch={batch_id}"})
    return [c["Id"] for c in found]


def _steps(run_dir: Path) -> int:
    if not (run_dir / "events.jsonl").exists():
        return 0
    return sum(e.type == "step" for e in read_events(run_dir / "events.jsonl", strict=False).events)


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "testbed", "batch", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_batch_runs_its_matrix_and_a_resume_has_nothing_left_to_do(image, tmp_path):
    f = _batch_file(tmp_path, ['{spec = "%s", concurrency = 1}' % PRICEY, UNPRICED], [0, 1, 2],
                    max_steps=2, concurrency=2)
    out = tmp_path / "out"
    res = run_cli("batch", str(f))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == str(out)
    assert "all" in res.stdout and "+?" in res.stdout  # the summary table; unknown prices are marked
    assert "attempt(s) ran on a model without known prices" in res.stdout
    rows = _rows(out, "SELECT * FROM runs")
    assert len(rows) == 6 and {r["state"] for r in rows} == {"finished"}
    assert {r["outcome"] for r in rows} == {"budget_exhausted"}
    for r in rows:
        run_dir = out / "runs" / r["run_id"]
        started = read_events(run_dir / "events.jsonl").events[0]
        assert started.type == "run_started" and started.config["batch"] == _batch_id(out)
        assert (run_dir / "run.json").is_file()
    # The per-model limit of 1: the pricey model's runs never overlapped.
    spans = sorted((a["started"], a["finished"]) for a in _rows(
        out, "SELECT a.* FROM attempts a JOIN runs r USING (run_id) WHERE r.model = ?", PRICEY))
    assert len(spans) == 3 and all(spans[i][1] <= spans[i + 1][0] for i in range(2))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cost_usd"] == pytest.approx(3 * 2 * 0.1) and summary["unknown_cost_attempts"] == 3
    assert not _containers(_batch_id(out))

    res = run_cli("batch", str(f), "--resume")
    assert res.returncode == 0, res.stderr
    assert "6 run(s) already finished" in res.stderr and "0 of 6 run(s) to do" in res.stderr
    assert len(_rows(out, "SELECT * FROM attempts")) == 6  # nothing ran twice

    res = run_cli("batch", str(out))  # a batch directory resumes itself, from its own copy of the file
    assert res.returncode == 0 and "0 of 6 run(s) to do" in res.stderr, res.stderr

    res = run_cli("batch", str(f))  # a second start in the same place is refused
    assert res.returncode == 2 and "--resume" in res.stderr


def test_the_total_budget_stops_new_runs_and_a_resume_with_more_money_finishes(image, tmp_path):
    f = _batch_file(tmp_path, [PRICEY], [0, 1, 2, 3], max_steps=3, concurrency=1,
                    budget="total_cost_usd = 0.5")
    out = tmp_path / "out"
    res = run_cli("batch", str(f))
    assert res.returncode == 1, res.stderr
    assert "stopped early: the total cost budget of $0.5000 is reached" in res.stdout
    states = [(r["state"], r["reason"]) for r in _rows(out, "SELECT * FROM runs ORDER BY position")]
    assert [s for s, _ in states] == ["finished", "finished", "skipped", "skipped"]
    assert all("not started: the total cost budget" in reason for _, reason in states[2:])
    first = {r["run_id"]: (out / "runs" / r["run_id"] / "events.jsonl").read_bytes()
             for r in _rows(out, "SELECT * FROM runs WHERE state = 'finished'")}

    f.write_text(f.read_text().replace("total_cost_usd = 0.5", "total_cost_usd = 10"))
    res = run_cli("batch", str(f), "--resume")
    assert res.returncode == 0, res.stderr
    assert [r["state"] for r in _rows(out, "SELECT * FROM runs")] == ["finished"] * 4
    for run_id, data in first.items():
        assert (out / "runs" / run_id / "events.jsonl").read_bytes() == data
    assert json.loads((out / "summary.json").read_text())["cost_usd"] == pytest.approx(1.2)


def test_a_broken_model_fails_its_own_runs_and_not_the_batch(image, tmp_path):
    missing = "scripted:/no/such/script.yaml"
    f = _batch_file(tmp_path, [UNPRICED, "nonsense-model", missing], [0, 1], max_steps=1, concurrency=2)
    out = tmp_path / "out"
    res = run_cli("batch", str(f))
    assert res.returncode == 1, res.stderr
    by_model = {}
    for r in _rows(out, "SELECT * FROM runs"):
        by_model.setdefault(r["model"], []).append(r)
    assert [r["state"] for r in by_model[UNPRICED]] == ["finished", "finished"]
    for model, needle in (("nonsense-model", "unknown model 'nonsense-model'"), (missing, "no such file")):
        rows = by_model[model]
        assert [r["state"] for r in rows] == ["failed", "failed"]
        assert all(f"model {model!r} could not be loaded" in r["reason"] and needle in r["reason"]
                   for r in rows)
        # The first run found the model broken; the others failed without taking a worker.
        assert sum(r["attempts"] for r in rows) == 1
        assert needle in res.stdout
    assert not list((out / "runs").glob("*nonsense*"))


def test_a_model_that_keeps_erroring_is_stopped_after_a_streak(image, tmp_path):
    down = f"scripted:{SCRIPTS / 'provider-down.yaml'}"
    f = _batch_file(tmp_path, [down], [0, 1, 2, 3], max_steps=3, concurrency=1,
                    budget="stop_model_after_errors = 2")
    out = tmp_path / "out"
    res = run_cli("batch", str(f))
    assert res.returncode == 1, res.stderr
    rows = _rows(out, "SELECT * FROM runs ORDER BY position")
    assert [(r["state"], r["outcome"]) for r in rows] == [("finished", "error")] * 2 + [("failed", None)] * 2
    assert "HTTP 503" in rows[0]["reason"]
    assert all("stopped after 2 consecutive model errors" in r["reason"] and r["attempts"] == 0
               for r in rows[2:])


@pytest.mark.slow
def test_kill_9_then_resume_runs_everything_exactly_once(image, tmp_path):
    f = _batch_file(tmp_path, [SLOW], [0, 1, 2, 3, 4], max_steps=6, concurrency=2, name="kill")
    out = tmp_path / "out"
    proc = _spawn(str(f))
    try:
        def two_running_one_done():
            if not (out / "batch.sqlite").exists():
                return None
            done = _rows(out, "SELECT * FROM runs WHERE state = 'finished'")
            running = _rows(out, "SELECT r.run_id, a.pid FROM runs r JOIN attempts a ON a.run_id = r.run_id "
                                 "AND a.attempt = r.attempts WHERE r.state = 'running' AND a.pid IS NOT NULL")
            ready = [r for r in running if _steps(out / "runs" / r["run_id"]) >= 2]
            return (done, ready) if done and len(ready) == 2 else None

        done, running = _wait(two_running_one_done, 240, "one finished run and two running ones")
        batch_id = _batch_id(out)
        finished_before = {r["run_id"]: (out / "runs" / r["run_id"] / "events.jsonl").read_bytes()
                           for r in done}
        # The batch dies without any chance to clean up, and so does one of its workers; the other
        # worker notices its parent is gone and ends its run cleanly.
        os.kill(running[0]["pid"], signal.SIGKILL)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    crashed_id, interrupted_id = running[0]["run_id"], running[1]["run_id"]
    _wait(lambda: read_events(out / "runs" / interrupted_id / "events.jsonl").events[-1].type
          == "run_finished", 120, "the orphaned worker to end its run")
    assert _containers(batch_id), "the killed worker's container is left behind until the next start"

    res = run_cli("batch", str(f), "--resume")
    assert res.returncode == 0, res.stderr
    assert "orphaned container(s)" in res.stderr
    assert not _containers(batch_id)
    runs = _rows(out, "SELECT * FROM runs")
    assert len(runs) == 5 and all(r["state"] == "finished" and r["outcome"] == "budget_exhausted" for r in runs)
    for r in runs:
        events = read_events(out / "runs" / r["run_id"] / "events.jsonl").events
        assert sum(e.type == "run_finished" for e in events) == 1
        attempts = _rows(out, "SELECT * FROM attempts WHERE run_id = ?", r["run_id"])
        assert sum(a["state"] == "finished" for a in attempts) == 1  # finished exactly once
    for run_id, data in finished_before.items():  # what had finished was not run again
        assert (out / "runs" / run_id / "events.jsonl").read_bytes() == data
        assert len(_rows(out, "SELECT * FROM attempts WHERE run_id = ?", run_id)) == 1
    # Every step the two cut-off runs recorded is still there and readable, moved aside intact.
    for run_id, state in ((crashed_id, "crashed"), (interrupted_id, "interrupted")):
        first = _rows(out, "SELECT * FROM attempts WHERE run_id = ? AND attempt = 1", run_id)[0]
        assert first["state"] == state and first["dir"] == str(out / "attempts" / run_id / "1")
        events = read_events(Path(first["dir"]) / "events.jsonl").events  # strict: every line valid
        steps = [e.index for e in events if e.type == "step"]
        assert len(steps) >= 2 and steps == list(range(1, len(steps) + 1))
        assert (Path(first["dir"]) / "shadow.git").is_dir()
        last = events[-1]
        if state == "interrupted":
            assert last.type == "run_finished" and last.outcome == "interrupted"
        else:
            assert not any(e.type == "run_finished" for e in events)


def _pty_batch(f: Path) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "testbed", "batch", str(f)], cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "140", "LINES": "40"},
                         # Ctrl-C makes the terminal drop queued output, maybe in mid-character.
                         encoding="utf-8", codec_errors="replace", timeout=240, dimensions=(40, 140))


def _both_running(out: Path):
    if not (out / "batch.sqlite").exists():
        return None
    rows = _rows(out, "SELECT run_id FROM runs WHERE state = 'running'")
    return rows if len(rows) == 2 and all(_steps(out / "runs" / r["run_id"]) >= 1 for r in rows) else None


@pytest.mark.slow
def test_ctrl_c_once_lets_running_runs_finish_and_starts_no_more(image, tmp_path):
    f = _batch_file(tmp_path, [SLOW], [0, 1, 2, 3], max_steps=4, concurrency=2, name="drain")
    out = tmp_path / "out"
    child = _pty_batch(f)
    running = [r["run_id"] for r in _wait(lambda: _both_running(out), 240, "two running runs")]
    child.sendintr()  # Ctrl-C at the terminal: SIGINT to the foreground process group
    child.expect("no new runs start")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    rows = {r["run_id"]: r for r in _rows(out, "SELECT * FROM runs")}
    for run_id in running:  # the runs that were going finished normally
        assert rows[run_id]["state"] == "finished" and rows[run_id]["outcome"] == "budget_exhausted"
    assert sorted(r["state"] for r in rows.values()) == ["finished", "finished", "pending", "pending"]
    assert not _containers(_batch_id(out))


@pytest.mark.slow
def test_ctrl_c_twice_interrupts_running_runs_cleanly(image, tmp_path):
    f = _batch_file(tmp_path, [SLOW], [0, 1, 2], max_steps=200, concurrency=2, name="interrupt")
    out = tmp_path / "out"
    child = _pty_batch(f)
    running = [r["run_id"] for r in _wait(lambda: _both_running(out), 240, "two running runs")]
    child.sendintr()
    child.expect("Ctrl-C again")
    child.sendintr()
    child.expect("interrupting")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    for run_id in running:
        row = _rows(out, "SELECT * FROM runs WHERE run_id = ?", run_id)[0]
        assert row["state"] == "interrupted"
        events = read_events(out / "runs" / run_id / "events.jsonl").events
        assert events[-1].type == "run_finished" and events[-1].outcome == "interrupted"
    assert not _containers(_batch_id(out))
    rows = _rows(out, "SELECT state FROM runs")  # a resume runs all three
    assert sorted(r["state"] for r in rows) == ["interrupted", "interrupted", "pending"]


def test_each_worker_boots_its_next_run_s_sandbox_ahead_and_never_reuses_one(image, tmp_path):
    """Concurrency 2, five runs: the first two boot cold; every later one finds its sandbox ready
    (booted while its worker's previous run went on). Each run had a container of its own, and
    none is left."""
    f = _batch_file(tmp_path, [SLOW], [0, 1, 2, 3, 4], max_steps=5, concurrency=2, name="pool")
    out = tmp_path / "out"
    res = run_cli("batch", str(f))
    assert res.returncode == 0, res.stderr
    rows = _rows(out, "SELECT * FROM runs ORDER BY position")
    summaries = [json.loads((out / "runs" / r["run_id"] / "run.json").read_text()) for r in rows]
    pooled = [s["sandbox_pooled"] for s in summaries]
    assert pooled[:4] == [False, False, True, True], pooled
    # The fifth is reserved for the worker that started its second run first; if the other worker
    # goes idle first, with nothing left pending, it takes that run cold (the driver's `_steal`).
    third, fourth = summaries[2], summaries[3]
    reserver = min((third, fourth), key=lambda s: s["started"])
    taker = min((third, fourth), key=lambda s: s["finished"])
    assert pooled[4] is (reserver is taker), (pooled, [(s["started"], s["finished"]) for s in summaries])
    assert len({s["sandbox_container"] for s in summaries}) == 5
    for s in (x for x in summaries[2:] if x["sandbox_pooled"]):  # booted during a run of ~2 s
        assert s["sandbox_ready_ms"] < 0.5 * s["sandbox_start_ms"], s
    assert not _containers(_batch_id(out))

    g = _batch_file(tmp_path, [UNPRICED], [0, 1, 2], max_steps=2, concurrency=2, name="cold")
    g.write_text(g.read_text().replace(str(out), str(tmp_path / "cold")))
    res = run_cli("batch", str(g), "--no-pool")
    assert res.returncode == 0, res.stderr
    cold = [json.loads(p.read_text()) for p in sorted((tmp_path / "cold" / "runs").glob("*/run.json"))]
    assert len(cold) == 3 and not any(s["sandbox_pooled"] for s in cold)


@pytest.mark.slow
def test_kill_9_of_the_batch_leaves_no_prepared_sandbox_behind(image, tmp_path):
    """The driver dies with -9 while both workers run and each holds its next run's sandbox: the
    workers end their runs and remove their prepared sandboxes themselves."""
    f = _batch_file(tmp_path, [SLOW], [0, 1, 2, 3, 4, 5], max_steps=6, concurrency=2, name="poolkill")
    out = tmp_path / "out"
    proc = _spawn(str(f))
    try:
        def two_running():
            if not (out / "batch.json").exists() or not (out / "batch.sqlite").exists():
                return None
            running = _rows(out, "SELECT run_id FROM runs WHERE state = 'running'")
            ready = [r for r in running if _steps(out / "runs" / r["run_id"]) >= 2]
            return ready if len(ready) == 2 else None

        running = _wait(two_running, 240, "two running runs")
        batch_id = _batch_id(out)
        pending = [r["run_id"] for r in _rows(out, "SELECT run_id FROM runs WHERE state = 'pending'")]
        # Both workers hold a prepared sandbox: its container is labelled with a run not started.
        _wait(lambda: sum(bool(docker.from_env().api.containers(
            filters={"label": f"testbed.run={rid}"})) for rid in pending) >= 2, 60, "two prepared sandboxes")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    _wait(lambda: not _containers(batch_id), 120, "every container of the batch to be removed")
    for r in running:
        events = read_events(out / "runs" / r["run_id"] / "events.jsonl").events
        said = [e.model_dump() for e in events if e.type in ("error", "run_finished")]
        assert events[-1].type == "run_finished" and events[-1].outcome == "interrupted", said
