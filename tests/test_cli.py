"""Bad input gets one clear error and exit status 2; the happy path prints the run directory last."""
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


def test_bad_flag_value():
    res = run_cli("run", "interval-off-by-one", "--max-steps", "0")
    assert res.returncode == 2 and "--max-steps" in res.stderr
    res = run_cli("run", "interval-off-by-one", "--wall-seconds", "-5")
    assert res.returncode == 2 and "--wall-seconds must be positive" in res.stderr


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
