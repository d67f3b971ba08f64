"""The batch file: strict validation with errors naming file and field, the matrix it expands to,
and run ids that depend on exactly (scenario, model, seed, knobs)."""
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from testbed.batch.ids import model_label, plan_hash, run_id_for
from testbed.batch.spec import BatchSpecError, load_batch_file, parse_batch

GOOD = """
name = "t"
[matrix]
scenarios = ["interval-off-by-one"]
models = ["simulated", {spec = "simulated:coupling=0", concurrency = 1}]
seeds = [3, 5]
[knobs]
max_steps = 4
feedback = ["neutral", "harsh"]
[budget]
run_cost_usd = 0.5
total_cost_usd = 2
"""


def _plan(text: str, tmp_path: Path, name: str = "b.toml"):
    p = tmp_path / name
    p.write_text(text)
    return load_batch_file(p)


def test_the_matrix_expands_seed_major_with_knob_axes(tmp_path):
    plan = _plan(GOOD, tmp_path)
    assert len(plan.runs) == 2 * 2 * 1 * 2  # seeds × feedback × scenarios × models
    assert [r.seed for r in plan.runs] == [3, 3, 3, 3, 5, 5, 5, 5]
    assert {r.knobs["feedback"] for r in plan.runs} == {"neutral", "harsh"}
    assert all(r.knobs["max_steps"] == 4 and r.knobs["cost_usd"] == 0.5 for r in plan.runs)
    assert "wall_seconds" not in plan.runs[0].knobs  # left to the scenario
    assert len({r.run_id for r in plan.runs}) == len(plan.runs)
    assert plan.model_limits == {"simulated:coupling=0": 1}
    from testbed.scenario import load_scenario
    from testbed.spec import RunSpec
    spec = RunSpec.for_scenario(load_scenario("interval-off-by-one"), "simulated", 3, **plan.runs[0].knobs)
    assert spec.budget.steps == 4 and spec.budget.cost_usd == 0.5


def test_run_ids_are_deterministic_and_depend_on_every_part():
    base = run_id_for("interval-off-by-one", "simulated", 1, {"max_steps": 4})
    assert base == run_id_for("interval-off-by-one", "simulated", 1, {"max_steps": 4, "feedback": None})
    others = {run_id_for("interval-off-by-one", "simulated", 2, {"max_steps": 4}),
              run_id_for("interval-off-by-one", "simulated:coupling=0", 1, {"max_steps": 4}),
              run_id_for("interval-off-by-one", "simulated", 1, {"max_steps": 5}),
              run_id_for("other", "simulated", 1, {"max_steps": 4})}
    assert base not in others and len(others) == 4
    assert base.startswith("interval-off-by-one-simulated-s1-")
    assert model_label("scripted:/a/b/slow-loop.yaml") == "scripted-slow-loop"
    assert plan_hash(["b", "a"]) == plan_hash(["a", "b"])


def test_the_same_file_gives_the_same_plan(tmp_path):
    a, b = _plan(GOOD, tmp_path, "a.toml"), _plan(GOOD, tmp_path, "b.toml")
    assert [r.run_id for r in a.runs] == [r.run_id for r in b.runs]


def test_count_tags_and_all(tmp_path):
    from testbed.scenario import list_scenarios, load_scenario
    tagged = {n for n in list_scenarios() if "dates" in load_scenario(n).tags}
    plan = _plan('[matrix]\ntags = ["dates"]\nmodels = ["simulated"]\ncount = 3\n', tmp_path)
    assert {r.scenario for r in plan.runs} == tagged and "interval-off-by-one" in tagged
    for name in tagged:
        assert [r.seed for r in plan.runs if r.scenario == name] == [0, 1, 2]
    assert plan.name == "b"  # the file's stem
    plan = _plan('[matrix]\nscenarios = ["all"]\nmodels = ["simulated"]\ncount = 1\n', tmp_path)
    assert {r.scenario for r in plan.runs} >= {"interval-off-by-one"}


@pytest.mark.parametrize("text, expected", [
    ('[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\ncount = 1\nmodles = 1\n',
     "field 'matrix.modles': unknown key"),
    ('[matrix]\nscenarios = ["interval-off-by-one"]\ncount = 1\n', "field 'matrix.models': missing"),
    ('concurency = 2\n[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\ncount = 1\n',
     "field 'concurency': unknown key"),
    ('[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\n',
     "exactly one of 'seeds' (a list) or 'count'"),
    ('[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\ncount = 1\n[knobs]\nfeedback = "rude"\n',
     "field 'knobs.feedback.0'"),
    ('[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\ncount = 1\n[knobs]\nmax_steps = true\n',
     "field 'knobs.max_steps.0'"),
    ('[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\ncount = 1\n[budget]\ntotal_cost_usd = -1\n',
     "field 'budget.total_cost_usd'"),
    ('[matrix]\nscenarios = ["nope"]\nmodels = ["simulated"]\ncount = 1\n',
     "field 'matrix.scenarios': unknown scenario 'nope'"),
    ('[matrix]\ntags = ["no-such-tag"]\nmodels = ["simulated"]\ncount = 1\n',
     "field 'matrix.tags': no scenario has any of the tags"),
    ('[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated", "simulated"]\ncount = 1\n',
     "lists a model twice"),
    ('[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = [{spec = "simulated", limit = 2}]\ncount = 1\n',
     "field 'matrix.models.0.limit': unknown key"),
    ('[matrix\n', "not valid TOML"),
])
def test_bad_files_name_the_file_and_the_field(tmp_path, text, expected):
    with pytest.raises(BatchSpecError) as err:
        _plan(text, tmp_path)
    assert str(tmp_path / "b.toml") in str(err.value) and expected in str(err.value)


def test_cli_bad_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[matrix]\nscenarios = ["interval-off-by-one"]\nmodels = ["simulated"]\ncount = 1\nextra = 1\n')
    res = run_cli("batch", str(bad))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "bad.toml" in res.stderr and "matrix.extra" in res.stderr
    assert not (tmp_path / "runs").exists()
    res = run_cli("batch", str(tmp_path / "missing.toml"))
    assert res.returncode == 2 and "no such file" in res.stderr
    res = run_cli("batch", str(ROOT / "batches" / "smoke.toml"), "--concurrency", "0",
                  "--output", str(tmp_path / "o"))
    assert res.returncode == 2 and "--concurrency must be at least 1" in res.stderr
    res = run_cli("batch", str(ROOT / "batches" / "smoke.toml"), "--retry-errors")
    assert res.returncode == 2 and "--retry-errors only applies with --resume" in res.stderr


def test_shipped_batch_files_are_valid_and_smoke_is_small():
    smoke = load_batch_file(ROOT / "batches" / "smoke.toml")
    assert all(r.model.startswith("simulated") for r in smoke.runs)
    assert len(smoke.runs) <= 8 and all(r.knobs["max_steps"] <= 8 for r in smoke.runs)
    overnight = load_batch_file(ROOT / "batches" / "overnight.toml")
    assert len(overnight.runs) >= 20 and overnight.spec.budget.total_cost_usd


def test_dry_run_prints_the_plan(tmp_path):
    res = run_cli("batch", str(ROOT / "batches" / "smoke.toml"), "--dry-run", "--output", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    assert "6 run(s)" in res.stdout and "interval-off-by-one-simulated-s0-" in res.stdout
    assert not (tmp_path / "o").exists()


def test_parse_batch_reports_the_path_it_was_given(tmp_path):
    with pytest.raises(BatchSpecError, match="somewhere.toml"):
        parse_batch("[matrix]\n", Path("somewhere.toml"))
