"""The scenario library: coverage, format, static patch checks, the 80-column list, validation of
every scenario in the real sandbox, and a simulated episode of every scenario."""
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from testbed.models.base import ModelContext
from testbed.models.simulated import SimulatedModel
from testbed.scenario import ScenarioError, list_scenarios, load_scenario
from testbed.validation import check_patch, check_variant, compare_ids, failing_ids, patch_files

NAMES = list_scenarios(ROOT / "scenarios")
SCENARIOS = {name: load_scenario(name, ROOT / "scenarios") for name in NAMES}


# -- the library as a whole ---------------------------------------------------------------------
def test_at_least_twelve_scenarios_cover_every_category():
    assert len(NAMES) >= 12
    by_category = Counter(s.category for s in SCENARIOS.values())
    for category, at_least in [("solvable-subtle", 3), ("impossible-contradiction", 2), ("flaky", 1),
                               ("misleading", 1), ("broken-environment", 2), ("nondeterminism", 1),
                               ("regression-trap", 1), ("long-horizon", 1), ("pressure-variant", 1)]:
        assert by_category[category] >= at_least, category
    tags = {t for s in SCENARIOS.values() for t in s.tags}
    for kind in ["float-rounding", "unicode", "cache-invalidation", "contradictory-tests",
                 "spec-violation", "missing-tool", "missing-dependency", "wall-clock",
                 "hash-ordering", "harsh-feedback"]:
        assert kind in tags, kind
    assert all(s.solvable == (s.reference_fix == "fix.patch") for s in SCENARIOS.values())
    assert any(s.flaky for s in SCENARIOS.values())


def test_scenarios_share_sandbox_repositories():
    shared = [t for t, n in Counter(s.sandbox for s in SCENARIOS.values()).items() if n >= 2]
    assert len(shared) >= 2


def test_harsh_variant_differs_from_a_solvable_base_in_feedback_only():
    harsh = [s for s in SCENARIOS.values() if s.variant_of and s.pressure.feedback == "harsh"]
    assert harsh
    for s in harsh:
        base = SCENARIOS[s.variant_of]
        assert base.solvable and base.pressure.feedback == "neutral"
        ok, detail = check_variant(s, base)
        assert ok, detail
        assert detail.endswith("feedback=harsh")


@pytest.mark.parametrize("name", NAMES)
def test_patches_are_plain_git_diffs_that_survive_the_personas_edits(name):
    s = SCENARIOS[name]
    ok, detail = check_patch(s, s.reference_patch(), s.reference_fix)
    assert ok, detail
    if s.trap_patch():
        ok, detail = check_patch(s, s.trap_patch(), s.validation.trap_patch)
        assert ok, detail


@pytest.mark.parametrize("name", NAMES)
def test_simulated_persona_finds_sources_and_the_patch_targets_them(name):
    s = SCENARIOS[name]
    template = s.sandbox_dir()
    files = sorted(str(p.relative_to(template)) for p in template.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    model = SimulatedModel.from_spec("simulated")
    model.start(ModelContext(run_id="r", seed=0, scenario=name, protected=s.protected, files=files,
                             give_up_tool=True, reference_patch=s.reference_patch(),
                             test_command=s.test_command))
    assert model.sources and model.tests
    changed_py = [f for f in patch_files(s.reference_patch()) if f.endswith(".py")]
    assert all(f in model.sources or f not in files for f in changed_py)


def test_template_repositories_are_complete():
    for template in {s.sandbox_dir() for s in SCENARIOS.values()}:
        assert (template / "README.md").is_file(), template
        assert (template / "pyproject.toml").is_file(), template
        assert list((template / "tests").glob("test_*.py")), template


# -- the format ----------------------------------------------------------------------------------
def _scenario_dir(tmp_path, name="draft", toml_extra="", patch=None, base="interval-off-by-one"):
    root = tmp_path / "scenarios"
    folder = root / name
    folder.mkdir(parents=True)
    text = (ROOT / "scenarios" / base / "scenario.toml").read_text()
    text = re.sub(r'^name = ".*"$', f'name = "{name}"', text, count=1, flags=re.M)
    (folder / "scenario.toml").write_text(text + toml_extra)
    shutil.copy(ROOT / "scenarios" / base / "fix.patch", folder / "fix.patch")
    if patch is not None:
        (folder / "fix.patch").write_text(patch)
    return root, folder


def test_format_errors_name_the_file_and_the_field(tmp_path):
    root, folder = _scenario_dir(tmp_path, toml_extra='surprise = 1\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario("draft", root)
    assert str(info.value) == (f"{folder / 'scenario.toml'}: field 'validation.surprise': unknown key")

    root, folder = _scenario_dir(tmp_path / "a", toml_extra='trap_failing = ["tests/x.py::t"]\n')
    with pytest.raises(ScenarioError, match="field 'validation': .*trap_failing needs a trap_patch"):
        load_scenario("draft", root)

    root, folder = _scenario_dir(tmp_path / "b", toml_extra='trap_patch = "missing.patch"\n'
                                                            'trap_failing = ["tests/x.py::t"]\n')
    with pytest.raises(ScenarioError, match="field 'validation.trap_patch': no file missing.patch"):
        load_scenario("draft", root)

    root, folder = _scenario_dir(tmp_path / "c")
    text = (folder / "scenario.toml").read_text().replace('category = "solvable-subtle"',
                                                         'category = "pressure-variant"')
    (folder / "scenario.toml").write_text(text)
    with pytest.raises(ScenarioError, match="pressure-variant scenarios name their base in variant_of"):
        load_scenario("draft", root)


def test_variant_check_refuses_more_than_pressure():
    harsh = SCENARIOS["interval-off-by-one-harsh"]
    other = harsh.model_copy(update={"prompt": harsh.prompt + " Hurry."})
    ok, detail = check_variant(other, SCENARIOS["interval-off-by-one"])
    assert not ok and "prompt" in detail
    same = harsh.model_copy(update={"pressure": SCENARIOS["interval-off-by-one"].pressure})
    ok, detail = check_variant(same, SCENARIOS["interval-off-by-one"])
    assert not ok and "not a variant" in detail


def test_patch_checks_catch_bad_patches():
    s = SCENARIOS["interval-off-by-one"]
    good = s.reference_patch()
    ok, detail = check_patch(s, good.replace("a/intervals", "intervals").replace("b/intervals", "intervals"), "p")
    assert not ok and "a/ b/ prefixes" in detail
    ok, detail = check_patch(s, good.replace("intervals/daterange.py", "tests/test_daterange.py"), "p")
    assert not ok and "touches protected paths: tests/test_daterange.py" in detail
    ok, detail = check_patch(s, good.replace("self.start < other.end", "self.start << other.end"), "p")
    assert not ok and "does not apply to the template" in detail
    eof = ("diff --git a/intervals/daterange.py b/intervals/daterange.py\n"
           "--- a/intervals/daterange.py\n+++ b/intervals/daterange.py\n"
           "@@ -62,4 +62,4 @@ def merge(ranges: list[DateRange]) -> list[DateRange]:\n"
           "             out[-1] = DateRange(out[-1].start, max(out[-1].end, r.end))\n"
           "         else:\n"
           "             out.append(r)\n"
           "-    return out\n"
           "+    return list(out)\n")
    ok, detail = check_patch(s, eof, "p")
    assert not ok and "once a line is appended" in detail, detail


def test_failing_ids_from_real_pytest_output(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('x', [1, 2], ids=['one', 'two'])\n"
        "def test_p(x):\n    assert x == 1\n\ndef test_ok():\n    pass\n\ndef test_bad():\n"
        "    raise ValueError('boom - with a dash')\n")
    (tmp_path / "tests" / "test_b.py").write_text("import no_such_module\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                         cwd=tmp_path, capture_output=True, text=True).stdout
    ids = failing_ids(out)
    assert ids == ["tests/test_b.py"]  # a collection error stops the session
    (tmp_path / "tests" / "test_b.py").unlink()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                         cwd=tmp_path, capture_output=True, text=True).stdout
    ids = failing_ids(out)
    assert ids == ["tests/test_a.py::test_bad", "tests/test_a.py::test_p[two]"]
    assert compare_ids(["tests/test_a.py::test_p", "tests/test_a.py::test_bad"], ids) is None
    assert "unexpected: tests/test_a.py::test_bad" in compare_ids(["tests/test_a.py::test_p"], ids)
    assert "expected but not failing: tests/test_a.py::test_ok" in compare_ids(
        ["tests/test_a.py::test_p", "tests/test_a.py::test_bad", "tests/test_a.py::test_ok"], ids)
    assert compare_ids(["tests/test_a.py::test_p[two]", "tests/test_a.py::test_bad", "x"], ids,
                       exact=False) is None


# -- the CLI -------------------------------------------------------------------------------------
def test_list_is_readable_at_80_columns():
    res = run_cli("scenarios", "list", env={"COLUMNS": "80"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in res.stdout
    for name, s in SCENARIOS.items():
        row = next(line for line in lines if re.search(rf"\b{re.escape(name)}\s", line))
        assert s.category in row and f"{s.budget.steps} steps" in row
        assert ("yes" if s.solvable else "no") in row
    header = next(line for line in lines if "category" in line)
    assert all(word in header for word in ("name", "tags", "solvable", "budget"))


def test_show_a_variant():
    res = run_cli("scenarios", "show", "duration-unit-conflict-no-exit")
    assert res.returncode == 0, res.stderr
    assert "variant of: duration-unit-conflict" in res.stdout
    assert "give_up_tool=False" in res.stdout and "best-effort patch: best-effort.patch" in res.stdout


def test_validate_unknown_name_is_bad_input():
    res = run_cli("scenarios", "validate", "interval-off-by-one", "no-such-scenario")
    assert res.returncode == 2
    assert "unknown scenario 'no-such-scenario'" in res.stderr and res.stderr.count("\n") == 1


# -- in the real sandbox -------------------------------------------------------------------------
@pytest.mark.docker
@pytest.mark.parametrize("name", NAMES)
def test_scenario_validates(image, name):
    from testbed.validation import validate_scenario

    report = validate_scenario(SCENARIOS[name], image, known=SCENARIOS)
    problems = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert report.ok, "\n".join(problems)
    names = {c.name for c in report.checks}
    assert {"patch", "read-only"} <= names
    assert ("flaky" in names and "reproducible" in names) if SCENARIOS[name].flaky else "template fails" in names
    assert ("fix passes" if SCENARIOS[name].solvable else "still impossible") in names


@pytest.mark.docker
def test_validate_fails_a_broken_scenario_with_exit_1(image, tmp_path):
    # A "solvable" scenario whose patch fixes nothing, and an "impossible" one whose best effort
    # solves it: both must be reported invalid, with the reason.
    readme_patch = ("diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n"
                    "@@ -1,3 +1,3 @@\n-# intervals\n+# intervals (patched)\n \n"
                    " Small helpers for inclusive date ranges: length, overlap, splitting into weeks.\n")
    root, _ = _scenario_dir(tmp_path, name="fixes-nothing", patch=readme_patch)
    _, folder = _scenario_dir(tmp_path / "x", name="not-impossible")
    shutil.move(str(folder), str(root / "not-impossible"))
    toml = root / "not-impossible" / "scenario.toml"
    toml.write_text(toml.read_text().replace("solvable = true", "solvable = false"))
    (root / "malformed").mkdir()
    (root / "malformed" / "scenario.toml").write_text('name = "malformed"\nsurprise = 1\n')
    env = {"TESTBED_SCENARIOS": str(root), "COLUMNS": "200"}
    res = run_cli("scenarios", "validate", env=env)
    assert res.returncode == 1, res.stdout + res.stderr
    out = res.stdout
    assert "✗ fixes-nothing" in out and "still fails after fix.patch" in out
    assert "✗ not-impossible" in out and "the scenario is not impossible" in out
    assert "✗ malformed" in out and "field 'surprise': unknown key" in out
    assert "3 of 3 scenarios invalid" in out
    listed = run_cli("scenarios", "list", env=env)
    assert listed.returncode == 0 and "does not load" in listed.stdout


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_simulated_episode_reaches_an_outcome(image, runs_dir, name):
    """`testbed run NAME --model simulated…`: the persona finds the reference patch at step 4
    (solve=1), so solvable scenarios end solved and impossible ones run out of steps."""
    res = run_cli("run", name, "--model", "simulated:solve=1,base=0", "--max-steps", "4",
                  "--runs-dir", str(runs_dir), "--quiet")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    run_dir = Path(res.stdout.strip().splitlines()[-1])
    run = json.loads((run_dir / "run.json").read_text())
    if SCENARIOS[name].solvable:
        assert run["outcome"] == "solved" and run["steps"] == 4, run
    else:
        assert run["outcome"] == "budget_exhausted" and run["steps"] == 4, run
        # the best-effort patch was applied: only the contradiction is left
        assert run["last_tests"]["failed"] == len(SCENARIOS[name].validation.still_failing), run
