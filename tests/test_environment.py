"""One conformance suite for every `Environment` (testbed/env): the Docker sandbox and the local
development environment must behave the same at the seam the agent loop uses."""
from __future__ import annotations

import pytest

from testbed.env import default_factory
from testbed.scenario import load_scenario
from testbed.spec import RunSpec

FIX = ("sed -i 's/return self.start < other.end and other.start < self.end/"
       "return self.start <= other.end and other.start <= self.end/' intervals/daterange.py")


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def env(request, tmp_path):
    if request.param == "docker":
        request.getfixturevalue("image")
    spec = RunSpec.for_scenario(load_scenario("interval-off-by-one"), "conformance", seed=1,
                                test_timeout=60, command_timeout=5)
    spec = spec.model_copy(update={"run_id": f"conformance-{request.param}-{tmp_path.name[-6:]}"})
    e = default_factory(request.param)(spec, tmp_path / "run")
    e.start()
    yield e
    e.close()


def test_exec_keeps_shell_state_and_reports_exit_codes(env):
    assert env.exec("cd intervals && export TB_X=7", 5).exit_code == 0
    r = env.exec("pwd; echo $TB_X", 5)
    assert r.output.split()[-1] == "7" and r.output.split()[0].endswith("/intervals")
    assert env.exec("false", 5).exit_code == 1
    assert env.exec("cd ..; exit 3", 5).shell_restarted


def test_a_hung_command_times_out_and_the_shell_recovers(env):
    r = env.exec("sleep 30", 1)
    assert r.timed_out and r.exit_code is None and any("timed out" in n for n in r.notes)
    assert env.exec("echo alive", 5).output.strip() == "alive"


def test_snapshot_records_changes_and_nothing_else(env):
    first = env.snapshot("a")
    assert not first.changed
    env.exec("echo '# note' >> intervals/daterange.py && echo x > new.txt", 5)
    snap = env.snapshot("b")
    assert snap.changed and snap.parent == first.commit
    assert {f.path: f.status for f in snap.files} == {"intervals/daterange.py": "M", "new.txt": "A"}
    assert "+# note" in env.diff(first.commit, snap.commit, "intervals/daterange.py")
    again = env.snapshot("c")
    assert not again.changed and again.commit == snap.commit


def test_check_grades_the_pristine_tests_on_the_current_tree(env):
    initial = env.check(1)
    assert not initial.all_passed and initial.basis == "junit" and initial.failed == 3 and initial.collected == 8
    env.exec("printf 'import pytest\\ndef pytest_collection_modifyitems(items):\\n    items.clear()\\n' > conftest.py",
             5)
    env.exec("echo 'def test_extra(): pass' > tests_extra.py", 5)
    tampered = env.check(2)
    assert not tampered.all_passed and tampered.failed == 3  # the agent's conftest is not the grader's
    env.exec(FIX, 5)
    fixed = env.check(3)
    assert fixed.all_passed and fixed.basis == "junit" and fixed.passed == 8, fixed.reason
    assert fixed.tree and fixed.tree != initial.tree


def test_restore_brings_back_a_recorded_commit(env):
    base = env.snapshot("base")
    env.exec(FIX, 5)
    fixed = env.snapshot("fixed")
    env.exec("rm -rf intervals", 5)
    assert env.snapshot("gone").changed
    env.restore(fixed.commit)
    assert env.check(4).all_passed
    out = env.exec("grep -c 'self.start <= other.end' intervals/daterange.py; git status --short", 5).output
    assert out.split()[0] == "1" and "M intervals/daterange.py" in out  # the agent's git: initial + changes
    env.restore(base.commit)
    assert not env.check(5).all_passed


def test_describe_names_the_isolation(env):
    d = env.describe()
    assert d["kind"] in ("docker", "local") and d["isolation"] in ("container", "none")
    assert env.initial_commit and "intervals/daterange.py" in env.files
