"""`testbed export`: a real run (tampering, then a conftest that skips everything) written as an
Inspect eval log (read by Inspect's own reader) and as an ATIF trajectory (checked against the
spec's rules), each imported back by our importer with the same steps; our per-step scores travel
in their metadata, and scoring the imported run gives the same tone and drastic classes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from testbed.rundata import load_run
from testbed.runner import run

SCRIPTS = Path(__file__).parent / "data" / "scripts"


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    run_dir, _ = run("interval-off-by-one", f"scripted:{SCRIPTS / 'tamper.yaml'}", seed=0,
                     runs_dir=tmp / "runs", env="local", max_steps=2)
    assert run_cli("score", str(run_dir)).returncode == 0
    return run_dir


def _scores(run_dir: Path) -> dict:
    return {str(l["step"]): (l["tone"]["level"], l["actions"]["classes"])
            for l in load_run(run_dir).read_scores() if l.get("type") == "step"}


def _import_back(fmt: str, path: Path, out: Path) -> Path:
    res = run_cli("import", fmt, str(path), "--out", str(out))
    assert res.returncode == 0, res.stderr
    back = next(p for p in out.iterdir() if (p / "events.jsonl").is_file())
    assert run_cli("score", str(back)).returncode == 0
    return back


def _steps(run_data):
    return [(s.narration.text, [(c.name, c.arguments.get("command")) for c in s.tool_calls],
             [(o.output, o.exit_code) for o in s.observations]) for s in run_data.steps]


def test_a_run_exported_to_inspect_opens_there_and_imports_back_with_the_same_steps_and_scores(
        scored_run, tmp_path):
    pytest.importorskip("inspect_ai")
    from inspect_ai.log import read_eval_log

    from testbed.interventions.context import messages_before
    run_dir = scored_run
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


def test_a_run_exported_as_atif_follows_the_spec_and_imports_back_with_the_same_steps_and_scores(
        scored_run, tmp_path):
    from datetime import datetime
    res = run_cli("export", str(scored_run), "--format", "atif", "--out", str(tmp_path / "atif"))
    assert res.returncode == 0, res.stderr
    path = Path(res.stdout.strip().splitlines()[-1])
    assert path.name.endswith(".trajectory.json")
    doc = json.loads(path.read_text())
    original = load_run(scored_run)
    # The spec's rules (Harbor RFC 0001, v1.4): required root and agent fields, step ids 1..n,
    # sources, agent-only fields only on agent steps, results that name a call of their step.
    assert doc["schema_version"] == "ATIF-v1.4" and doc["session_id"] == original.run_id
    assert doc["agent"]["name"] == "testbed" and isinstance(doc["agent"]["version"], str)
    assert [s["step_id"] for s in doc["steps"]] == list(range(1, len(doc["steps"]) + 1))
    for st in doc["steps"]:
        assert st["source"] in ("system", "user", "agent") and isinstance(st["message"], str)
        if st["source"] != "agent":
            assert not {"model_name", "reasoning_content", "tool_calls", "metrics"} & set(st)
        ids = {c["tool_call_id"] for c in st.get("tool_calls", [])}
        assert all(isinstance(c["arguments"], dict) and c["function_name"] for c in st.get("tool_calls", []))
        assert all(r["source_call_id"] in ids for r in st.get("observation", {}).get("results", []))
        if "timestamp" in st:
            datetime.fromisoformat(st["timestamp"].replace("Z", "+00:00"))
    agents = [s for s in doc["steps"] if s["source"] == "agent"]
    assert len(agents) == len(original.steps) and doc["steps"][0]["source"] == "system"
    assert doc["final_metrics"]["total_steps"] == len(original.steps)
    assert agents[0]["extra"]["testbed"]["drastic"] == _scores(scored_run)["1"][1]

    back = _import_back("auto", path, tmp_path / "back")  # `auto` recognises ATIF
    assert _steps(load_run(back)) == _steps(original)
    assert _scores(back) == _scores(scored_run)
    assert load_run(back).finished.outcome == original.finished.outcome


def test_atif_v1_7_embedded_sub_agent_trajectories_import_as_linked_runs(scored_run, tmp_path):
    """ATIF v1.7 embeds sub-agents' trajectories (`subagent_trajectories`, each with its own
    `trajectory_id`). Built from one of our own exports by the schema's rules: Harbor's own writer
    is not installable here."""
    res = run_cli("export", str(scored_run), "--format", "atif", "--out", str(tmp_path / "atif"))
    doc = json.loads(Path(res.stdout.strip().splitlines()[-1]).read_text())
    sub = json.loads(json.dumps(doc)) | {"trajectory_id": "helper-1"}
    sub["steps"] = sub["steps"][:3]
    parent = doc | {"schema_version": "ATIF-v1.7", "trajectory_id": "root", "subagent_trajectories": [sub]}
    path = tmp_path / "nested.trajectory.json"
    path.write_text(json.dumps(parent))
    res = run_cli("import", "atif", str(path), "--out", str(tmp_path / "back"))
    assert res.returncode == 0, res.stderr
    dirs = {Path(d): load_run(Path(d)) for d in res.stdout.split()}
    [main_run] = [r for r in dirs.values() if "subagent" not in r.started.config["source"]]
    [(helper_dir, helper)] = [(d, r) for d, r in dirs.items() if "subagent" in r.started.config["source"]]
    assert len(main_run.steps) == len(load_run(scored_run).steps)
    link = helper.started.config["source"]["subagent"]
    assert link["trajectory_id"] == "helper-1" and link["parent_trajectory_id"] == "root"
    assert len(helper.steps) == sum(1 for s in sub["steps"] if s["source"] == "agent")
    events = [json.loads(x) for x in (helper_dir / "events.jsonl").read_text().splitlines()]
    assert all(e["source"]["at"].startswith("subagent_trajectories[0].") for e in events if e["type"] == "step")
