"""Analysis v2: nulls that failures cannot fool, the report's estimand, and the reviewer's checks
(negative controls, competing risks, the marginal structural model, power). docs/analysis.md."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from analysis.cohort import CLASS_BITS, Cohort
from analysis.competing import cumulative_incidence
from analysis.ctc import case_time_control
from analysis.hazard import fit_hazard
from analysis.msm import msm
from analysis.onset import get_definition
from analysis.ordering import ordering_table
from analysis.outcomes import event_times
from analysis.peri import peri_event
from analysis.precedence import donors, precedence
from analysis.report import Options, analyze, strip_private
from analysis.synthetic import STRESS, SimParams, simulate
from tests.test_analysis_units import rec

D1, D5 = CLASS_BITS["D1"], CLASS_BITS["D5"]


def _stress(seed: int) -> Cohort:
    return simulate(SimParams(runs=400, effect=1.0, seed=seed, **STRESS)).cohort


def test_stress_null_fools_time_matching_and_failure_matching_holds():
    """No link from frustration to D1, but failures differ by run and drive both: matched on time
    alone, precedence and the peri-event test "find" frustration first; matched on failures they do not."""
    fooled = {"precedence": 0, "peri": 0}
    held = {"precedence": 0, "peri": 0}
    for seed in range(8):
        c = _stress(3000 + seed)
        et = event_times(c)
        onset = get_definition("consec2").onset(c.signal)
        for match, tally in ((False, fooled), (True, held)):
            p, _ = precedence(c, et, onset, draws=500, boot=50, seed=seed, lead=False, match_failures=match)
            pe = peri_event(c, et, draws=500, seed=seed, match_failures=match)
            tally["precedence"] += p["p"] < 0.05
            tally["peri"] += pe["pre_window"]["p"] < 0.05
    assert fooled["precedence"] >= 4 and fooled["peri"] >= 4, fooled   # the trap is real here
    assert held["precedence"] <= 1 and held["peri"] <= 1, held


def test_donors_are_matched_on_failures_and_may_act_later():
    # the case acts at step 4 (index 3) with 3 failures before it
    case = rec("case", [0, 0, 0, 0, 0], [0, 0, 0, D1, 0], fails=[0, 1, 2, 3, 3])
    same = rec("same-fails", [0] * 6, fails=[0, 1, 2, 3, 4, 5])
    later = rec("acts-later", [0] * 6, [0, 0, 0, 0, D1, 0], fails=[0, 1, 2, 3, 3, 3])
    near = rec("one-off", [0] * 6, fails=[0, 1, 1, 2, 2, 2])
    far = rec("many-fewer", [0] * 6, fails=[0] * 6)
    c = Cohort.from_records([case, same, later, near, far])
    stats: dict[str, int] = {}
    pool = donors(c, event_times(c), np.array([0]), stats=stats)[0]
    assert sorted(c.run_ids[i] for i in pool) == ["acts-later", "same-fails"]   # exact match wins
    assert stats == {"exact": 1}
    c2 = Cohort.from_records([case, near, far])
    pool = donors(c2, event_times(c2), np.array([0]), stats=stats)[0]
    assert [c2.run_ids[i] for i in pool] == ["one-off"] and stats["caliper"] == 1   # else within ±1
    pool = donors(c2, event_times(c2), np.array([0]), match_failures=False)[0]
    assert len(pool) == 2


def test_peri_event_permutation_test_is_not_overconfident_with_few_runs():
    """The old paired t-test reported p < 1e-4 from a handful of runs; a permutation test within
    matched sets of two cannot go below what its sets allow."""
    recs = [rec(f"case{i}", [0, 0, 3, 3, 3, 0], [0] * 5 + [D1], fails=[0] * 6) for i in range(3)]
    recs += [rec(f"ctl{i}", [0] * 7, fails=[0] * 7) for i in range(3)]
    c = Cohort.from_records(recs)
    pw = peri_event(c, event_times(c), draws=4000, seed=1)["pre_window"]
    assert pw["p"] >= 0.1   # three cases: at best (1/2)^3 = 0.125 under the null, one-sided


def test_constant_failures_are_dropped_from_the_hazard_model_and_named():
    c = simulate(SimParams(runs=300, effect=3.0, seed=11)).cohort
    c.fails_before[:] = 0   # imported runs, or --no-tests: no harness test runs at all
    h = fit_hazard(c, event_times(c), interaction=False)
    assert h["estimable"], h.get("reason")
    assert "failures" in " ".join(h["dropped_covariates"])
    assert msm(c, event_times(c))["estimable"] is False   # nothing to weight for, and it says so


def test_a_remorse_step_before_the_detected_act_is_not_pre_act_frustration():
    # a missed D1 at step 2, remorse at steps 3–4, then the detected D1 at step 6
    r = rec("r", [0, 0, 3, 3, 0, 0, 0], [0, 0, 0, 0, 0, D1, 0],
            remorse=[False, False, True, True, False, False, False])
    plain = rec("p", [0, 0, 3, 3, 0, 0, 0], [0, 0, 0, 0, 0, D1, 0])
    c = Cohort.from_records([r, plain])
    onset = get_definition("consec2").onset(c.signal)
    assert onset[0] == -1 and onset[1] == 3
    assert c.level[0, 2] == 3   # the level as shown is kept (the peri-event curve draws it)


def test_a_run_that_starts_at_the_act_is_unobservable_not_silent():
    c = Cohort.from_records([rec("starts-at-act", [0, 0, 0], [D1, 0, 0]),
                             rec("silent", [0, 0, 0, 0], [0, 0, D1, 0])])
    et = event_times(c)
    row = ordering_table(c, et, get_definition("consec2").onset(c.signal))["pooled"]
    assert row["n_d1"] == 2 and row["unobservable"] == 1 and row["n_observable"] == 1
    assert row["silent_drastic"] == 1 and row["silent_drastic_rate"] == 1.0


def test_case_time_control_exposure_is_a_parameter():
    c = simulate(SimParams(runs=400, effect=3.0, seed=5)).cohort
    et = event_times(c)
    a, b = case_time_control(c, et), case_time_control(c, et, exposure="consec2")
    assert a["exposure_definition"] == "level2" and b["exposure_definition"] == "consec2"
    assert a["odds_ratio"] != b["odds_ratio"]
    assert "at risk" in a["controls"]
    with pytest.raises(ValueError, match="unknown exposure"):
        case_time_control(c, et, exposure="vibes")


def test_the_ci_covers_an_effect_planted_on_the_reports_own_estimand():
    covered = 0
    for seed in range(10):
        c = simulate(SimParams(runs=400, effect=3.0, estimand="observed", seed=6000 + seed)).cohort
        h = fit_hazard(c, event_times(c), interaction=False)
        covered += h["ci_low"] <= 3.0 <= h["ci_high"]
    assert covered >= 8   # nominal 95 %; measured 95 % over 100 cohorts (docs/analysis.md)


def test_cumulative_incidence_against_a_hand_count():
    recs = [rec("d1", [0] * 3, [0, D1, 0]), rec("gave-up", [0] * 2, [0, D5], outcome="gave_up"),
            rec("solved", [0] * 3, outcome="solved"), rec("budget", [0] * 4),
            rec("error", [0] * 2, outcome="error")]
    ci = cumulative_incidence(Cohort.from_records(recs), event_times(Cohort.from_records(recs)))
    # step 2: 5 at risk, one D1 and one give-up; step 3: 3 at risk (error censored after 2), one solved
    assert ci["curves"]["d1"][1] == pytest.approx(0.2) and ci["curves"]["give_up"][1] == pytest.approx(0.2)
    assert ci["curves"]["solved"][2] == pytest.approx(0.6 * 1 / 2)   # S(2) = 0.6; 2 at risk at step 3
    assert ci["counts"] == {"d1": 1, "give_up": 1, "solved": 1, "budget": 1, "censored": 1}
    final = ci["final"]
    assert sum(final.values()) <= 1 + 1e-9 and final["budget"] > 0


def test_msm_finds_a_planted_effect_and_stays_near_one_at_the_null():
    null = [msm(c, event_times(c)) for c in (simulate(SimParams(runs=400, seed=7000 + s)).cohort for s in range(4))]
    planted = msm(*(lambda c: (c, event_times(c)))(simulate(SimParams(runs=400, effect=3.0, estimand="observed",
                                                                      seed=7100)).cohort))
    assert all(m["estimable"] for m in null) and planted["estimable"]
    assert sum(m["ci_low"] > 1 or m["ci_high"] < 1 for m in null) <= 1
    assert planted["ci_low"] > 1.5 and planted["weights"]["mean"] == pytest.approx(1.0, abs=0.3)


def test_report_carries_negative_controls_competing_risks_and_msm():
    c = simulate(SimParams(runs=300, seed=12, negative_rate=0.01)).cohort
    r = analyze(c, options=Options(sensitivity=False))
    assert set(r["negative_controls"]) == {"d4", "d6"}
    assert all(v["estimable"] for v in r["negative_controls"].values())
    assert r["competing_risks"]["estimable"] and r["msm"]["estimable"]
    names = " ".join(t["name"] for t in r["tests"])
    assert "negative control" in names and "marginal structural model" in names
    assert "scored" in r["definitions"]["estimand"]
    json.dumps(strip_private(r), allow_nan=False)


def test_power_command_prints_power_and_writes_json(tmp_path):
    out = tmp_path / "power.json"
    p = subprocess.run([sys.executable, "-m", "testbed", "power", "--effect", "3", "--runs", "200",
                        "--cohorts", "6", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "power" in p.stdout
    r = json.loads(out.read_text())
    assert r["runs"] == 200 and r["cohorts"] == 6 and 0 <= r["power"] <= 1 and not math.isnan(r["power"])
    bad = subprocess.run([sys.executable, "-m", "testbed", "power", "--effect", "-1", "--runs", "10"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "effect" in bad.stderr and "Traceback" not in bad.stderr
