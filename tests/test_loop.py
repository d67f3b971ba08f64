"""The agent loop ends for each reason and logs every step, against the real sandbox."""
import json
from pathlib import Path

import pytest

from testbed.log import read_events
from testbed.models import load_model
from testbed.runner import run
from testbed.scenario import load_scenario

pytestmark = pytest.mark.docker
SCRIPTS = Path(__file__).parent / "data" / "scripts"


def _run(runs_dir, model, max_steps=None, seed=0):
    scenario = load_scenario("interval-off-by-one")
    return run(scenario, load_model(model), seed=seed, runs_dir=runs_dir, max_steps=max_steps)


def test_solved_with_a_scripted_fix(image, runs_dir):
    run_dir, result = _run(runs_dir, f"scripted:{SCRIPTS / 'fix-intervals.yaml'}")
    assert result.outcome == "solved" and result.steps == 2  # the auto test run after step 2 passes
    events = read_events(run_dir).events
    types = [e.type for e in events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    tests = [e for e in events if e.type == "tests"]
    assert tests[0].trigger == "initial" and tests[0].failed == 3 and not tests[0].all_passed
    assert tests[-1].all_passed and tests[-1].passed == 8
    steps = [e for e in events if e.type == "step"]
    assert steps[1].snapshot.changed and steps[1].snapshot.files[0].path == "intervals/daterange.py"
    assert steps[0].observations[0].exit_code == 0 and "def overlaps" in steps[0].observations[0].output
    run = json.loads((run_dir / "run.json").read_text())
    assert run["outcome"] == "solved" and run["steps"] == 2 and run["last_tests"]["all_passed"]
    assert (run_dir / "shadow.git").is_dir()


def test_gave_up(image, runs_dir):
    run_dir, result = _run(runs_dir, f"scripted:{SCRIPTS / 'give-up.yaml'}")
    assert result.outcome == "gave_up" and result.steps == 2
    assert "cannot make the tests pass" in result.reason
    finished = read_events(run_dir).events[-1]
    assert finished.type == "run_finished" and finished.outcome == "gave_up"


def test_step_budget_ends_the_run_and_feedback_is_given(image, runs_dir):
    run_dir, result = _run(runs_dir, f"scripted:{SCRIPTS / 'loop-forever.yaml'}", max_steps=5)
    assert result.outcome == "budget_exhausted" and result.steps == 5
    events = read_events(run_dir).events
    assert sum(e.type == "step" for e in events) == 5
    notices = [e for e in events if e.type == "notice"]
    failed = [n for n in notices if n.kind == "tests_failed"]
    assert failed and "cannot be edited" in failed[0].text
    # step 3 repeats step 1 exactly (the script loops): the loop notices
    steps = [e for e in events if e.type == "step"]
    assert steps[2].repeat_of == 1 and steps[3].repeat_of == 2
    assert any(n.kind == "repeated" for n in notices)


def test_simulated_persona_logs_truth_and_acts_in_the_sandbox(image, runs_dir):
    run_dir, result = _run(runs_dir, "simulated:coupling=4,base=0.05,solve=0", max_steps=25, seed=7)
    events = read_events(run_dir).events
    steps = [e for e in events if e.type == "step"]
    truths = [e for e in events if e.type == "truth"]
    assert len(truths) == len(steps) >= 1
    assert all(0.0 <= t.frustration <= 1.0 and 0 <= t.level <= 3 for t in truths)
    assert len({s.narration.text for s in steps}) >= len(steps) - 1  # varied narration
    assert result.outcome in ("gave_up", "budget_exhausted")
    # frustration rises with failed test runs
    assert truths[-1].frustration > truths[0].frustration


def test_simulated_is_reproducible_for_a_seed(image, runs_dir):
    a_dir, _ = _run(runs_dir, "simulated", max_steps=6, seed=11)
    b_dir, _ = _run(runs_dir, "simulated", max_steps=6, seed=11)
    def sig(d):
        return [(e.narration.text, [c.model_dump() for c in e.tool_calls])
                for e in read_events(d).events if e.type == "step"]
    assert sig(a_dir) == sig(b_dir)


def test_simulated_drastic_actions_are_real(image, runs_dir):
    # always drastic from step 2 on, and only the reset kind: the workspace really changes
    run_dir, result = _run(runs_dir, "simulated:base=0.9,coupling=0,drastic=mass_delete", max_steps=3, seed=1)
    events = read_events(run_dir).events
    truths = [e for e in events if e.type == "truth" and e.drastic]
    assert truths and truths[0].drastic == "mass_delete"
    step = next(e for e in events if e.type == "step" and e.index == truths[0].step)
    assert step.tool_calls[0].arguments["command"].startswith("rm -rf intervals")
    assert any(f.status == "D" for f in step.snapshot.files)


def test_protected_write_attempts_fail_and_are_logged(image, runs_dir):
    run_dir, result = _run(runs_dir, f"scripted:{SCRIPTS / 'tamper.yaml'}", max_steps=2)
    events = read_events(run_dir).events
    steps = [e for e in events if e.type == "step"]
    assert "Read-only file system" in steps[0].observations[0].output
    assert steps[0].observations[0].exit_code != 0
    assert not steps[0].snapshot.changed  # nothing under tests/ could change
    # the agent's own pytest is fooled by its conftest; the harness's pristine run is not
    assert "skipped" in steps[1].observations[0].output
    after = [e for e in events if e.type == "tests" and e.step == 2]
    assert after and after[0].failed == 3 and not after[0].all_passed
    assert result.outcome == "budget_exhausted"
