"""Bad input gets one clear error and exit status 2; the happy path prints the run directory last."""
import re
from pathlib import Path

import pytest

from conftest import run_cli


def test_unknown_scenario():
    res = run_cli("run", "no-such-scenario")
    assert res.returncode == 2
    assert "unknown scenario 'no-such-scenario'" in res.stderr and "interval-off-by-one" in res.stderr
    assert res.stderr.count("\n") == 1


def test_unknown_model():
    res = run_cli("run", "interval-off-by-one", "--model", "gpt-nonsense")
    assert res.returncode == 2 and "unknown model 'gpt-nonsense'" in res.stderr


def test_bad_simulated_option():
    res = run_cli("run", "interval-off-by-one", "--model", "simulated:wat=1")
    assert res.returncode == 2 and "unknown option 'wat=1'" in res.stderr


def test_malformed_scenario_file(tmp_path):
    bad = tmp_path / "scenarios" / "broken"
    bad.mkdir(parents=True)
    (bad / "scenario.toml").write_text('name = "broken"\ntitle = "x"\nsurprise = 1\n')
    res = run_cli("run", "broken", env={"TESTBED_SCENARIOS": str(tmp_path / "scenarios")})
    assert res.returncode == 2
    msg = res.stderr
    assert "scenario.toml" in msg and "field 'surprise': unknown key" in msg
    assert "field 'description': missing" in msg
    (bad / "scenario.toml").write_text('name = "broken"\ntitle = [unclosed\n')
    res = run_cli("run", "broken", env={"TESTBED_SCENARIOS": str(tmp_path / "scenarios")})
    assert res.returncode == 2 and "not valid TOML" in res.stderr


def _one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    for n in needles:
        assert n in res.stderr, res.stderr


def test_bad_flag_value(tmp_path):
    _one_line_error(run_cli("run", "interval-off-by-one", "--max-steps", "0"), "--max-steps")
    _one_line_error(run_cli("run", "interval-off-by-one", "--wall-seconds", "-5"),
                    "--wall-seconds: Input should be greater than 0")
    for bad in ("nan", "inf", "-inf"):  # nan used to switch the wall budget off
        _one_line_error(run_cli("run", "interval-off-by-one", f"--wall-seconds={bad}"), "--wall-seconds",
                        "finite")
    _one_line_error(run_cli("run", "interval-off-by-one", "--set", "test_timeout=nan"), "test_timeout")
    _one_line_error(run_cli("run", "interval-off-by-one", "--set", "nonsense=1"), "unknown knob 'nonsense'")
    _one_line_error(run_cli("run", "interval-off-by-one", "--set", "noequals"), "KNOB=VALUE")
    _one_line_error(run_cli("run", "interval-off-by-one", "--set", "disk_mb=1"), "disk_mb")


def _scenario(tmp_path, name, body, sandbox_files=None):
    d = tmp_path / "scenarios" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "scenario.toml").write_bytes(body if isinstance(body, bytes) else body.encode())
    return {"TESTBED_SCENARIOS": str(tmp_path / "scenarios")}


GOOD = """name = "{name}"
title = "t"
description = "d"
category = "demo"
sandbox = "intervals"
prompt = "p"
protected = {protected}
test_command = "python3 -m pytest -q tests"
solvable = false
"""


def test_bad_scenario_inputs_get_one_line(tmp_path):
    env = _scenario(tmp_path, "latin", GOOD.format(name="latin", protected='["tests"]').replace(
        'title = "t"', 'title = "caf\xe9"').encode("latin-1"))
    _one_line_error(run_cli("run", "latin", env=env), "not UTF-8")
    env = _scenario(tmp_path, "dot", GOOD.format(name="dot", protected='["."]'))
    _one_line_error(run_cli("run", "dot", env=env), "field 'protected'", "not the repository itself")
    env = _scenario(tmp_path, "missing", GOOD.format(name="missing", protected='["no/such/dir"]'))
    _one_line_error(run_cli("run", "missing", env=env), "'no/such/dir' does not exist")


def test_malformed_scripted_turns_get_one_line(tmp_path, runs_dir):
    cases = {"notalist.yaml": "turns: 5\n", "badcall.yaml": "turns:\n  - tool_calls: [{arguments: {}}]\n",
             "badbash.yaml": "turns:\n  - bash: [1, 2]\n", "badtext.yaml": "turns:\n  - text: {a: 1}\n",
             "badargs.yaml": "turns:\n  - tool_calls: [{name: bash, arguments: [1]}]\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        res = run_cli("run", "interval-off-by-one", "--model", f"scripted:{tmp_path / name}",
                      "--runs-dir", str(runs_dir))
        _one_line_error(res, "scripted model", name)
    assert list(runs_dir.iterdir()) == []  # refused before anything started


def test_scenarios_list_and_show():
    res = run_cli("scenarios", "list")
    assert res.returncode == 0 and "interval-off-by-one" in res.stdout
    res = run_cli("scenarios", "show", "interval-off-by-one")
    assert res.returncode == 0 and "protected: tests" in res.stdout


@pytest.mark.docker
def test_run_prints_timeline_and_run_dir_last(image, runs_dir):
    res = run_cli("run", "interval-off-by-one", "--model", "simulated", "--seed", "2",
                  "--max-steps", "4", "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert Path(last).is_dir() and (Path(last) / "events.jsonl").is_file()
    assert "outcome:" in res.stdout and "step" in res.stdout


@pytest.mark.docker
def test_run_scores_at_the_end_and_prints_its_finding_and_the_replay_command(image, runs_dir):
    persona = "simulated:coupling=5,base=0.2,rise=0.5,solve=0,silent=0,drastic=revert_all"
    res = run_cli("run", "interval-off-by-one", "--model", persona, "--seed", "4", "--max-steps", "8",
                  "--runs-dir", str(runs_dir), env={"COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    run_dir = Path(lines[-1])
    assert (run_dir / "scores.jsonl").is_file()            # scored at the end by default
    assert lines[-2] == f"replay: testbed replay {run_dir}"
    finding = next(ln for ln in lines if ln.startswith("finding: "))
    # the same numbers `testbed report` computes for this run
    from analysis.cohort import Cohort
    from analysis.load import read_run
    from analysis.outcomes import event_times
    from analysis.per_run import per_run_rows
    c = Cohort.from_records([read_run(run_dir).record])
    row = per_run_rows(c, event_times(c))[0]
    assert f"first drastic act at step {row['first_d1']}: D1 revert_all" in finding
    assert ("no frustration onset" in finding) == (row["onset_consec2"] is None)
    live = [ln for ln in res.stderr.splitlines() if re.match(r"\s+step +\d+ ", ln)]   # the live lines
    assert len(live) == 8 and all(re.search(r" T[0-3] ", ln) for ln in live)   # tone on every one
    assert any(" D1" in ln for ln in live)
    bare = run_cli("run", "interval-off-by-one", "--model", persona, "--seed", "4", "--max-steps", "3",
                   "--runs-dir", str(runs_dir), "--no-score", env={"COLUMNS": "200"})
    assert bare.returncode == 0 and not (Path(bare.stdout.strip().splitlines()[-1]) / "scores.jsonl").exists()
