"""`testbed simulate` and `testbed report` end to end: outputs, stable keys, degenerate cohorts that
must say "not estimable" instead of crashing, bad input, and analysis/ staying free of sandbox and
model code."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

CONTRACT = {"ordering", "precedence", "lead_time", "hazard", "case_time_control"}


def simulate(out: Path, runs: int, *extra: str, seed: int = 1) -> Path:
    res = run_cli("simulate", "--runs", str(runs), "--seed", str(seed), "--out", str(out), *extra)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == str(out)
    return out


def strict_json(path: Path) -> dict:
    def no_nan(token):
        raise AssertionError(f"non-standard JSON constant {token}")
    return json.loads(path.read_text(), parse_constant=no_nan)


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    return simulate(tmp_path_factory.mktemp("cohort") / "runs", 300, "--effect", "3",
                    "--models", "model-a,model-b")


def test_report_writes_terminal_tables_json_and_self_contained_html(cohort_dir, tmp_path):
    res = run_cli("report", str(cohort_dir), "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"),
                  "--plots", str(tmp_path / "png"), "--per-run", str(tmp_path / "runs.csv"))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for title in ("1 · Ordering", "2–3 · Precedence", "4 · Mean tone level", "5–6 · Discrete-time hazard",
                  "7 · Every test", "summary"):
        assert title in out
    assert out.strip().splitlines()[-3:] == [str(tmp_path / n) for n in ("r.json", "r.html", "runs.csv")]
    r = strict_json(tmp_path / "r.json")
    assert CONTRACT <= set(r)
    assert {"observed", "null_mean", "excess", "p", "ci"} <= set(r["precedence"])
    assert {"odds_ratio", "ci_low", "ci_high", "p", "n_runs", "n_events"} <= set(r["hazard"])
    assert r["inputs"]["runs_found"] == 300 and r["inputs"]["runs_unscored"] == 0
    assert r["precedence"]["n_draws"] >= 2000
    assert r["hazard"]["estimable"] and r["hazard"]["ci_low"] > 1            # planted OR 3
    assert r["hazard"]["by_model"]["estimable"] and len(r["hazard"]["by_model"]["models"]) == 2
    assert [t["role"] for t in r["tests"]].count("primary") == 1
    assert all(t["p_holm"] >= t["p"] for t in r["tests"] if t["p"] is not None)
    pooled = r["ordering"]["pooled"]
    assert pooled["before"] + pooled["same"] + pooled["after"] + pooled["never"] == pooled["n_d1"]
    assert len(r["ordering"]["by_stratum"]) == 4
    import csv
    rows = list(csv.DictReader(open(tmp_path / "runs.csv")))
    assert len(rows) == 300
    for key in ("before", "same", "after", "never"):
        assert sum(row["d1_order"] == key for row in rows) == pooled[key]
    assert sum(row["remorse_after_d1"] == "True" for row in rows) == pooled["remorse_after"]
    assert r["peri_event"]["offsets"] == list(range(-10, 6))
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") == 5
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)
    assert "Ordering of frustration onset" in html
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pngs == ["cumulative_incidence.png", "odds_ratios.png", "ordering.png", "peri_event.png",
                    "precedence_null.png"]
    assert all((tmp_path / "png" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_report_is_reproducible_with_a_seed(cohort_dir, tmp_path):
    for name in ("a", "b"):
        assert run_cli("report", str(cohort_dir), "--quiet", "--json", str(tmp_path / f"{name}.json")).returncode == 0
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()


def test_degenerate_cohorts_are_not_estimable_never_a_crash(tmp_path):
    no_d1 = simulate(tmp_path / "no-d1", 30, "--base-hazard", "0", "--action-false-positive", "0")
    one = tmp_path / "one"
    one.mkdir()
    shutil.copytree(sorted(no_d1.iterdir())[0], one / "only-run")
    unscored = tmp_path / "unscored"
    shutil.copytree(no_d1, unscored)
    for d in unscored.iterdir():
        (d / "scores.jsonl").unlink()
    for name, folder in (("no-d1", no_d1), ("one", one), ("unscored", unscored)):
        res = run_cli("report", str(folder), "--no-score", "--json", str(tmp_path / f"{name}.json"),
                      "--html", str(tmp_path / f"{name}.html"), "--per-run", str(tmp_path / f"{name}.csv"))
        assert res.returncode == 0, (name, res.stderr)
        assert "<html" in (tmp_path / f"{name}.html").read_text()
        r = strict_json(tmp_path / f"{name}.json")
        for key in ("precedence", "lead_time", "hazard", "case_time_control"):
            assert r[key]["estimable"] is False and r[key]["reason"], (name, key)
        assert r["hazard"]["odds_ratio"] is None and r["precedence"]["observed"] is None
        assert "not estimable" in res.stdout or "Nothing to analyse" in res.stdout
    r = strict_json(tmp_path / "no-d1.json")
    assert r["hazard"]["reason"] == "no first D1 events in the risk set"
    assert r["ordering"]["pooled"]["n_d1"] == 0
    r = strict_json(tmp_path / "unscored.json")
    assert r["inputs"]["runs_unscored"] == 30 and r["inputs"]["runs_scored"] == 0
    assert any(f["code"] == "unscored_runs" for f in r["flags"]) or r["flags"][0]["code"] == "no_data"


def test_one_model_has_no_interaction_and_says_so(tmp_path):
    folder = simulate(tmp_path / "runs", 200, "--effect", "3")
    res = run_cli("report", str(folder), "--quiet", "--json", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr
    r = strict_json(tmp_path / "r.json")
    assert r["hazard"]["by_model"] == {"estimable": False, "reason": "one model only: no model interaction to test",
                                       "models": []}


def test_unscored_runs_are_reported_and_left_out(cohort_dir, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(cohort_dir, folder)
    for d in sorted(folder.iterdir())[:7]:
        (d / "scores.jsonl").unlink()
    res = run_cli("report", str(folder), "--quiet", "--no-score", "--json", str(tmp_path / "r.json"))
    assert res.returncode == 0
    assert "7 of 300 run(s) are unscored and left out" in res.stderr
    r = strict_json(tmp_path / "r.json")
    assert r["inputs"]["runs_unscored"] == 7 and r["inputs"]["runs_scored"] == 293
    assert r["flags"][0]["code"] == "unscored_runs"


class ToneFromTruth:
    """A scorer that copies the simulated ground truth: enough to exercise scoring on the fly."""
    name = "tone"

    def score_run(self, run):
        return {i: {"level": t.level, "p_frustrated": t.level / 3, "flags": [], "evidence": [], "tiers": {},
                    "thinking": None} for i, t in run.truth.items()}

    def describe(self):
        return {"name": "truth-copy"}


class ActionsFromTruth:
    name = "actions"

    def score_run(self, run):
        out = {}
        for i, t in run.truth.items():
            cls = getattr(t, "drastic_class", None)
            out[i] = {"drastic": cls is not None, "classes": [cls] if cls else [], "detections": []}
        return out

    def describe(self):
        return {"name": "truth-copy"}


def test_unscored_runs_are_scored_when_scorers_are_registered(cohort_dir, tmp_path, monkeypatch, capsys):
    from testbed import cli, scoring
    folder = tmp_path / "runs"
    shutil.copytree(cohort_dir, folder)
    victims = sorted(folder.iterdir())[:5]
    for d in victims:
        (d / "scores.jsonl").unlink()
    monkeypatch.setattr(scoring, "SCORERS", {"tone": f"{__name__}:ToneFromTruth",
                                             "actions": f"{__name__}:ActionsFromTruth"})
    rc = cli.main(["report", str(folder), "--quiet", "--json", str(tmp_path / "r.json")])
    assert rc == 0
    assert "scoring 5 unscored run(s) with tone, actions" in capsys.readouterr().err
    r = strict_json(tmp_path / "r.json")
    assert r["inputs"]["runs_scored"] == 300 and r["inputs"]["scored_now"] == 5
    assert all((d / "scores.jsonl").is_file() for d in victims)


def test_unscored_runs_are_scored_by_the_real_scorers(cohort_dir, tmp_path, capsys):
    from testbed import cli
    folder = tmp_path / "runs"
    shutil.copytree(cohort_dir, folder)
    victims = sorted(folder.iterdir())[:3]
    for d in victims:
        (d / "scores.jsonl").unlink()
    assert cli.main(["report", str(folder), "--quiet", "--json", str(tmp_path / "r.json")]) == 0
    assert "scoring 3 unscored run(s) with tone, actions" in capsys.readouterr().err
    r = strict_json(tmp_path / "r.json")
    assert r["inputs"]["runs_scored"] == 300 and r["inputs"]["scored_now"] == 3
    for d in victims:
        lines = [json.loads(x) for x in (d / "scores.jsonl").read_text().splitlines()]
        assert {"tone", "actions"} <= set(lines[0]["scorers"])
        assert all(0 <= ln["tone"]["level"] <= 3 for ln in lines[1:])


@pytest.mark.parametrize("args, message", [
    (["report", "/nonexistent/runs"], "/nonexistent/runs: no such file or directory"),
    (["report", "{empty}"], "no run directories (folders with events.jsonl) under"),
    (["report", "{cohort}", "--draws", "100"], "--draws must be at least 2000"),
    (["report", "{cohort}", "--onset", "vibes"], "unknown onset definition 'vibes'"),
    (["report", "{cohort}", "--json", "/nonexistent/dir/r.json"], "its folder /nonexistent/dir does not exist"),
    (["simulate", "--runs", "0", "--out", "{tmp}/x"], "runs and steps must be at least 1"),
    (["simulate", "--runs", "5", "--sensitivity", "1.5", "--out", "{tmp}/x"], "sensitivity must be a probability"),
    (["simulate", "--runs", "5", "--effect", "0", "--out", "{tmp}/x"], "effect is an odds ratio and must be > 0"),
    (["simulate", "--runs", "5", "--model-effects", "zz=2", "--out", "{tmp}/x"], "not one of the models"),
    (["simulate", "--runs", "5", "--out", "{cohort}"], "already holds runs of seed 0"),
])
def test_bad_input_is_one_clear_error_with_exit_status_2(args, message, cohort_dir, tmp_path, capsys):
    from testbed import cli
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty", cohort=cohort_dir, tmp=tmp_path) for a in args]
    if "already holds" in message:
        simulate(tmp_path / "seed0", 3, seed=0)
        args[-1] = str(tmp_path / "seed0")
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_bad_flag_through_the_real_command_line():
    res = run_cli("report", "/nonexistent/runs")
    assert res.returncode == 2 and res.stderr == "testbed report: error: /nonexistent/runs: no such file or directory\n"


def test_simulate_refuses_to_overwrite_but_adds_other_seeds(tmp_path):
    simulate(tmp_path / "runs", 5, seed=1)
    simulate(tmp_path / "runs", 5, seed=2)
    assert len(list((tmp_path / "runs").iterdir())) == 10


def test_analysis_never_imports_sandbox_or_model_code(tmp_path):
    code = f"""
import sys, pkgutil, importlib, json
sys.path.insert(0, {str(ROOT)!r})
import analysis
for m in pkgutil.iter_modules(analysis.__path__):
    importlib.import_module("analysis." + m.name)
from analysis.synthetic import SimParams, simulate, write_runs
from analysis.load import load_cohort
from analysis.report import analyze
from analysis.plots import all_pngs
from analysis.html import build_html
write_runs(simulate(SimParams(runs=60, seed=1)), {str(tmp_path)!r})
r = analyze(load_cohort([{str(tmp_path)!r}]).cohort)
build_html(r, all_pngs(r))
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("docker", "git") or
             m.startswith(("testbed.sandbox", "testbed.models", "testbed.agent", "testbed.runner",
                           "testbed.scenario", "testbed.commands", "testbed.cli")))
print(json.dumps(bad))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []


@pytest.mark.docker
def test_report_reads_real_simulated_runs(image, runs_dir, tmp_path, monkeypatch, capsys):
    """A real episode in the sandbox: unscored at first, then scored and read like any other run."""
    res = run_cli("run", "interval-off-by-one", "--model", "simulated:base=0.3", "--seed", "5", "--max-steps", "6",
                  "--runs-dir", str(runs_dir), "--quiet", "--no-score")
    assert res.returncode == 0, res.stderr
    res = run_cli("report", str(runs_dir), "--no-score", "--json", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr
    r = strict_json(tmp_path / "r.json")
    assert r["inputs"]["runs_found"] == 1 and r["inputs"]["runs_unscored"] == 1
    assert r["hazard"]["reason"] == "no scored runs"
    from analysis.load import read_run
    from testbed import cli, scoring
    monkeypatch.setattr(scoring, "SCORERS", {"tone": f"{__name__}:ToneFromTruth",
                                             "actions": f"{__name__}:ActionsFromTruth"})
    assert cli.main(["report", str(runs_dir), "--quiet", "--json", str(tmp_path / "s.json")]) == 0
    r = strict_json(tmp_path / "s.json")
    assert r["inputs"]["runs_scored"] == 1 and r["ordering"]["pooled"]["n_runs"] == 1
    run_dir = next(runs_dir.iterdir())
    record = read_run(run_dir).record
    from testbed.rundata import load_run
    real = load_run(run_dir)
    assert record.step_index == [s.index for s in real.steps]
    failed = [t.step for t in real.tests if t.trigger != "initial" and not t.all_passed]
    assert record.fails_before == [sum(1 for f in failed if f < s.index) for s in real.steps]
    assert record.truth_level == [float(real.truth[s.index].level) for s in real.steps]
