"""The Ray executor on a local Ray cluster started here (127.0.0.1 only, no dashboard): runs become
Ray tasks, their run directories come back whole into the batch directory on the driver."""
import os
import subprocess

import docker
import pytest
from rich.console import Console

from testbed.batch.ray_executor import LOCAL_ONLY_ENV
from testbed.batch.session import run_batch
from testbed.log import read_events

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def local_ray():
    saved = {k: os.environ.get(k) for k in LOCAL_ONLY_ENV}
    os.environ.update(LOCAL_ONLY_ENV)  # read by Ray when imported: bind and advertise 127.0.0.1
    import ray
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_ray_executor_runs_a_small_batch_and_writes_back_to_the_driver(image, tmp_path, local_ray):
    assert [n["NodeManagerAddress"] for n in local_ray.nodes()] == ["127.0.0.1"]
    f = tmp_path / "ray.toml"
    f.write_text(f'name = "ray"\nconcurrency = 2\noutput = "{tmp_path / "out"}"\n'
                 '[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\nseeds = [0, 1, 2]\n'
                 '[knobs]\nmax_steps = 3\n')
    out = Console(record=True, width=160)
    done = run_batch(f, executor="ray", console=out, progress_console=Console(record=True, width=160),
                     live=False)
    assert done.exit_code == 0, out.export_text()
    assert local_ray.is_initialized()  # a Ray it did not start is left running
    from testbed.batch.store import BatchStore
    store = BatchStore.open(done.out)
    try:
        rows = store.rows()
        assert len(rows) == 3 and {r["state"] for r in rows} == {"finished"}
        for r in rows:
            run_dir = done.out / "runs" / r["run_id"]
            events = read_events(run_dir / "events.jsonl").events  # strict
            assert events[0].type == "run_started" and events[-1].type == "run_finished"
            assert events[0].config["batch"] == done.batch_id
            steps = [e for e in events if e.type == "step"]
            assert len(steps) == r["steps"] >= 1
            commits = subprocess.run(["git", "--git-dir", str(run_dir / "shadow.git"), "rev-list", "--count",
                                      "main"], capture_output=True, text=True, check=True).stdout
            assert int(commits) >= 1
            assert (run_dir / "run.json").is_file()
            attempt = store.attempts(r["run_id"])[0]
            assert attempt["host"] and attempt["state"] == "finished"
        assert not list((done.out / "runs").glob(".*incoming"))
    finally:
        store.close()
    assert not docker.from_env().containers.list(all=True, filters={"label": f"testbed.batch={done.batch_id}"})

    again = run_batch(f, resume=True, executor="ray", console=Console(record=True),
                      progress_console=Console(record=True), live=False)
    assert again.exit_code == 0 and sum(again.result.ended.values()) == 0  # nothing ran twice
