"""`testbed export --format inspect`: a real run (tampering, then a conftest that skips everything)
written as an Inspect eval log, read by Inspect's own reader, and imported back by our Inspect
importer with the same steps; our per-step scores travel in the log's metadata and scoring the
imported run gives the same tone and drastic classes."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from testbed.rundata import load_run
from testbed.runner import run

pytest.importorskip("inspect_ai")
SCRIPTS = Path(__file__).parent / "data" / "scripts"


def _steps(run_data):
    return [(s.narration.text, [(c.name, c.arguments.get("command")) for c in s.tool_calls],
             [(o.output, o.exit_code) for o in s.observations]) for s in run_data.steps]


def test_a_run_exported_to_inspect_opens_there_and_imports_back_with_the_same_steps_and_scores(tmp_path):
    from inspect_ai.log import read_eval_log

    from testbed.interventions.context import messages_before
    run_dir, _ = run("interval-off-by-one", f"scripted:{SCRIPTS / 'tamper.yaml'}", seed=0,
                     runs_dir=tmp_path / "runs", env="local", max_steps=2)
    assert run_cli("score", str(run_dir)).returncode == 0
    res = run_cli("export", str(run_dir), "--format", "inspect", "--out", str(tmp_path / "exported"))
    assert res.returncode == 0, res.stderr
    path = Path(res.stdout.strip().splitlines()[-1])
    original = load_run(run_dir)

    log = read_eval_log(str(path))  # Inspect's own reader
    sample = log.samples[0]
    context = messages_before(original, original.steps[-1].index + 1)
    assert [m.role for m in sample.messages] == [m["role"] for m in context]
    assert [m.text for m in sample.messages] == [m["content"] for m in context]
    assert log.eval.task == "interval-off-by-one" and sample.id == original.run_id
    outcome = original.finished.outcome
    assert sample.scores["testbed"].answer == outcome
    scored = {str(l["step"]): l for l in original.read_scores() if l.get("type") == "step"}
    meta = sample.metadata["testbed"]["steps"]
    assert set(meta) == set(scored) == {"1", "2"}
    for k, line in scored.items():
        assert meta[k]["tone_level"] == line["tone"]["level"]
        assert meta[k]["drastic"] == line["actions"]["classes"]
    assert "D2" in meta["1"]["drastic"]  # the tampering travels with the log

    res = run_cli("import", "inspect", str(path), "--out", str(tmp_path / "back"))
    assert res.returncode == 0, res.stderr
    back_dir = next(p for p in (tmp_path / "back").iterdir() if (p / "events.jsonl").is_file())
    back = load_run(back_dir)
    assert _steps(back) == _steps(original)
    assert run_cli("score", str(back_dir)).returncode == 0
    rescored = {str(l["step"]): l for l in load_run(back_dir).read_scores() if l.get("type") == "step"}
    for k, line in scored.items():
        assert rescored[k]["tone"]["level"] == line["tone"]["level"]
        assert rescored[k]["actions"]["classes"] == line["actions"]["classes"]


def test_exporting_a_missing_run_is_one_clear_error(tmp_path):
    res = run_cli("export", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "nope" in res.stderr and "Traceback" not in res.stderr
    assert not list((tmp_path / "o").glob("*.json"))
