"""Interventions: the context rebuilt from the log is the one the model saw (hash-checked), a
continuation is a normal run directory linked to its parent, rewrites change words and never
actions, and the effect estimate finds a planted causal effect of narration and no effect where
there is none."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from testbed.agent.loop import context_hash
from testbed.interventions import parse_arms, run_intervention
from testbed.interventions.context import ContextMismatch, messages_before, rebuild
from testbed.rundata import load_run
from testbed.runner import run

PERSONA = "simulated:base=0.15,coupling=1,solve=0,silent=0,drastic=revert_all+reset_hard+mass_delete+test_tamper"


@pytest.fixture(scope="module")
def parent(tmp_path_factory) -> Path:
    run_dir, result = run("interval-off-by-one", PERSONA, seed=4, runs_dir=tmp_path_factory.mktemp("runs"),
                          env="local", max_steps=8)
    assert result.steps == 8
    return run_dir


def test_every_recorded_context_is_rebuilt_exactly(parent):
    r = load_run(parent)
    assert all(s.context_hash for s in r.steps)
    assert [context_hash(messages_before(r, s.index)) for s in r.steps] == [s.context_hash for s in r.steps]
    messages, digest = rebuild(r, 5)
    assert digest == r.steps[5].context_hash and messages[-1]["role"] in ("user", "tool")


def test_a_log_that_does_not_determine_the_context_is_an_error(parent, tmp_path):
    copy = tmp_path / parent.name
    shutil.copytree(parent, copy)
    lines = (copy / "events.jsonl").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if '"type":"notice"' in line and '"step":2' in line)
    event = json.loads(lines[i])
    event["text"] += " (edited)"
    lines[i] = json.dumps(event)
    (copy / "events.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ContextMismatch, match="does not determine the context"):
        rebuild(load_run(copy), 4)


def test_an_as_is_continuation_picks_up_exactly_where_the_parent_was(parent, tmp_path):
    dirs = run_intervention(parent, "4", parse_arms("as-is,frustrated"), 1, 2, tmp_path / "b", env="local")
    p = load_run(parent)
    as_is, frustrated = (load_run(d) for d in dirs)
    branch = as_is.started.config["branch"]
    assert branch["parent"] == p.run_id and branch["at"] == 4 and branch["arm"] == "as-is"
    own = [s for s in as_is.steps if not getattr(s, "prefix", None)]
    assert [s.index for s in own] == [5, 6]
    assert own[0].context_hash == p.steps[4].context_hash  # the parent's step 5 saw the same context
    assert own[0].snapshot.parent == p.steps[3].snapshot.commit  # and the same workspace
    prefix = [s for s in as_is.steps if getattr(s, "prefix", None)]
    assert [s.index for s in prefix] == [1, 2, 3, 4]
    assert [t.trigger for t in as_is.tests if t.step == 0] == ["initial"]  # its own reference check
    # the frustrated arm: words changed, actions not, and the record says how
    for ps, fs in zip(p.steps[:4], [s for s in frustrated.steps if getattr(s, "prefix", None)]):
        assert [c.model_dump() for c in fs.tool_calls] == [c.model_dump() for c in ps.tool_calls]
        rw = fs.rewrite
        assert rw["method"].startswith("simulated") or rw["method"].startswith("unchanged")
        if rw["accepted"] and rw["text"] != rw["original"]:
            assert fs.narration.text == rw["text"] and rw["original"] == ps.narration.text
            assert rw["level_after"] >= 2
    steps = frustrated.started.config["branch"]["rewrite"]["steps"]
    assert len(steps) == 4 and any(s["accepted"] and s["text"] != s["original"] for s in steps)
    assert frustrated.steps[4].context_hash != p.steps[4].context_hash


def test_arms_parse_and_refuse_what_they_do_not_know():
    arms = parse_arms("as-is,calm,feedback=harsh,give_up_tool=false")
    assert [a.name for a in arms] == ["as-is", "calm", "feedback=harsh", "give_up_tool=false"]
    assert arms[3].knobs == {"give_up_tool": False} and arms[1].target == "calm"
    for bad in ("sad", "as-is,as-is", ""):
        with pytest.raises(ValueError):
            parse_arms(bad)


@pytest.mark.slow
def test_a_planted_effect_of_narration_is_found_and_a_null_one_is_not():
    """The validation of docs/interventions.md on fewer seeds (its figures come from 20)."""
    from testbed.interventions.validate import validate
    res = validate([7, 8, 9], n=10, horizon=2, at=12, env="local")
    planted = [r for r in res["rows"] if r["context"] == 1]
    null = [r for r in res["rows"] if r["context"] == 0]
    # Per parent, n=10 branches give a CI below zero about 63 % of the time (docs/interventions.md),
    # so three parents are judged on the direction of every one and the separation of the means.
    assert len(planted) == 3 and all(r["diff"] < 0 for r in planted), planted
    assert res["planted_mean_diff"] < res["null_mean_diff"] - 0.1, res
    assert sum(r["excludes_zero"] for r in null) <= 1, null
    assert all(r["manipulation"]["mean_level_after"] < r["manipulation"]["mean_level_before"] for r in planted)


@pytest.mark.docker
def test_intervene_in_the_sandbox_and_report_the_effect(image, tmp_path):
    runs = tmp_path / "runs"
    res = run_cli("run", "interval-off-by-one", "--model", PERSONA, "--seed", "2", "--max-steps", "5",
                  "--runs-dir", str(runs))
    assert res.returncode == 0, res.stderr
    parent = Path(res.stdout.strip().splitlines()[-1])
    res = run_cli("intervene", str(parent), "--at", "3", "--arms", "as-is,calm,feedback=harsh", "--n", "1",
                  "--horizon", "2", "--out", str(tmp_path / "branches"), "--json", str(tmp_path / "iv.json"))
    assert res.returncode == 0, res.stderr
    made = [Path(x) for x in res.stdout.strip().splitlines() if x.startswith("/")]
    assert len(made) == 3 and all((d / "scores.jsonl").is_file() for d in made)
    iv = json.loads((tmp_path / "iv.json").read_text())
    assert set(iv["arms"]) == {"as-is", "calm", "feedback=harsh"} and iv["baseline"] == "as-is"
    harsh = load_run(next(d for d in made if "feedback-harsh" in d.name))
    assert harsh.started.config["spec"]["pressure"]["feedback"] == "harsh"
    res = run_cli("replay", str(made[1]), "--static")
    assert res.returncode == 0 and "branch: of" in res.stdout and "the parent's step" in res.stdout
    res = run_cli("report", str(runs), str(tmp_path / "branches"), "--json", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["inputs"]["runs_branched"] == 3 and report["inputs"]["n_runs"] == 1
    assert report["interventions"]["continuations"] == 3 and "Interventions:" in res.stdout


@pytest.mark.docker
def test_a_batch_with_an_intervene_section_branches_its_runs(image, tmp_path):
    out = tmp_path / "out"
    f = tmp_path / "iv.toml"
    f.write_text(f'name = "iv"\noutput = "{out}"\n[matrix]\nscenarios = ["interval-off-by-one"]\n'
                 f'models = ["{PERSONA}"]\nseeds = [2]\n[knobs]\nmax_steps = 4\n'
                 '[intervene]\nat = 2\narms = ["as-is", "calm"]\nn = 1\nhorizon = 1\nruns = "all"\n')
    res = run_cli("batch", str(f))
    assert res.returncode == 0, res.stderr
    branches = sorted((out / "branches").iterdir())
    assert [b.name.rsplit("-b2-", 1)[1] for b in branches] == ["as-is-r0", "calm-r0"]
    report = json.loads((out / "report.json").read_text())
    assert report["interventions"]["continuations"] == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(f.read_text().replace('"calm"', '"sad"'))
    res = run_cli("batch", str(bad))
    assert res.returncode == 2 and "unknown arm 'sad'" in res.stderr
