"""The statistical building blocks of analysis/, each checked against a reference computation."""
import math

import numpy as np
import pytest

from analysis.cohort import CLASS_BITS, Cohort, RunRecord
from analysis.ctc import _fit, _Sets, _window_sets, case_time_control
from analysis.hazard import EXPOSURES, fit_hazard, hazard_rows, rcs_basis, spline_knots
from analysis.onset import DEFINITIONS, get_definition
from analysis.ordering import ordering_table
from analysis.outcomes import event_times
from analysis.precedence import donors, precedence
from analysis.stats import holm, perm_p_greater, row_nanmedian
from analysis.synthetic import SimParams, simulate

D1, D2, D5 = CLASS_BITS["D1"], CLASS_BITS["D2"], CLASS_BITS["D5"]


def rec(run_id, levels, classes=None, outcome="budget_exhausted", model="m", scenario="s", remorse=None,
        fails=None):
    n = len(levels)
    return RunRecord(run_id=run_id, model=model, scenario=scenario, outcome=outcome,
                     step_index=list(range(1, n + 1)), level=[float(x) for x in levels],
                     p_frustrated=[x / 3 if not math.isnan(x) else math.nan for x in map(float, levels)],
                     remorse=remorse or [False] * n, give_up_flag=[False] * n, classes=classes or [0] * n,
                     fails_before=fails or list(range(n)))


# -- onset ---------------------------------------------------------------------------------------
def test_onset_definitions_on_a_hand_made_timeline():
    level = np.array([[0, 2, 0, 2, 2, 3, 0, 0], [0, 1, 1, 1, 1, 1, 1, 1], [3, 3, 0, 0, 0, 0, 0, 0]], float)
    assert DEFINITIONS["level2"].onset(level).tolist() == [1, -1, 0]
    assert DEFINITIONS["consec2"].onset(level).tolist() == [4, -1, 1]
    assert get_definition("consec3").onset(level).tolist() == [5, -1, -1]
    # CUSUM (ref 1.5, h 2): row 0: S = 0, .5, 0, .5, 1, 2.5 → alarm at column 5; row 2: 1.5, 3 → column 1
    assert DEFINITIONS["cusum"].onset(level).tolist() == [5, -1, 1]


def test_onset_is_causal_the_future_never_changes_the_past():
    rng = np.random.default_rng(0)
    level = rng.integers(0, 4, size=(200, 30)).astype(float)
    for d in DEFINITIONS.values():
        state = d.state(level)
        for t in (3, 10, 20):
            changed = level.copy()
            changed[:, t + 1:] = rng.integers(0, 4, size=changed[:, t + 1:].shape)
            assert np.array_equal(d.state(changed)[:, : t + 1], state[:, : t + 1]), d.name


def test_unscored_steps_are_not_frustrated_and_break_a_consecutive_run():
    level = np.array([[2, np.nan, 2, 2]])
    assert DEFINITIONS["consec2"].onset(level).tolist() == [3]
    assert DEFINITIONS["level2"].onset(np.array([[np.nan, np.nan]])).tolist() == [-1]


def test_unknown_onset_definition_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown onset definition 'wat'"):
        get_definition("wat")


# -- event times ---------------------------------------------------------------------------------
def test_event_times_give_up_competes_and_the_end_censors():
    c = Cohort.from_records([
        rec("a", [0, 0, 2, 0], [0, 0, 0, D1]),
        rec("b", [0, 0, 0], [0, 0, 0], outcome="gave_up"),          # give-up without a D5 detection
        rec("c", [0, 0, 0, 0, 0], [0, D5, 0, D1, 0]),               # D1 after giving up: not counted
        rec("d", [0, 0], [0, 0], outcome="solved"),
    ])
    et = event_times(c)
    assert et.d1.tolist() == [3, -1, 3, -1]
    assert et.give_up.tolist() == [-1, 2, 1, -1]
    assert et.has("d1").tolist() == [True, False, False, False]
    assert et.exit("d1").tolist() == [3, 2, 1, 1]


# -- ordering ------------------------------------------------------------------------------------
def test_ordering_table_counts_before_same_after_never_silent_and_remorse():
    c = Cohort.from_records([
        rec("before", [0, 2, 2, 0, 0], [0, 0, 0, D1, 0], remorse=[False] * 4 + [True]),
        rec("same", [0, 0, 2, 2, 0], [0, 0, 0, D1, 0]),             # consec2 fires at column 3 = D1
        rec("after", [0, 0, 0, 3, 3], [0, 0, D1, 0, 0], remorse=[False, False, False, True, False]),
        rec("never", [0, 0, 0], [0, D1, 0]),
        rec("no-d1", [2, 2, 2], [0, 0, 0]),
    ])
    et = event_times(c)
    row = ordering_table(c, et, DEFINITIONS["consec2"].onset(c.level))["pooled"]
    assert (row["before"], row["same"], row["after"], row["never"]) == (1, 1, 1, 1)
    assert row["n_d1"] == 4 and row["n_runs"] == 5
    assert row["silent_drastic"] == 2 and row["silent_drastic_rate"] == 0.5
    assert row["remorse_after"] == 2 and row["n_observed_after_d1"] == 4


# -- precedence ----------------------------------------------------------------------------------
def test_swap_null_mean_is_the_exact_average_over_eligible_donors():
    sim = simulate(SimParams(runs=120, seed=4, models=("a", "b")))
    c = sim.cohort
    et = event_times(c)
    onset = DEFINITIONS["level2"].onset(c.level)
    res, _ = precedence(c, et, onset, draws=2000, boot=200, seed=1)
    cases = np.flatnonzero(et.has("d1"))
    expected = []
    for i in cases:  # brute force: every other run of the stratum, reached the step, no D1 before,
        t = et.d1[i]  # the same failures before t (else ±1); the matched set includes the case
        pool = [j for j in range(c.n) if j != i and c.stratum[j] == c.stratum[i] and et.last[j] >= t
                and (et.d1[j] < 0 or et.d1[j] >= t)]
        exact = [j for j in pool if c.fails_before[j, t] == c.fails_before[i, t]]
        pool = exact or [j for j in pool if abs(int(c.fails_before[j, t]) - int(c.fails_before[i, t])) <= 1]
        if pool:
            expected.append(np.mean([0 <= onset[j] < t for j in [i, *pool]]))
    assert res["n_runs"] == len(expected)
    assert res["null_mean"] == pytest.approx(np.mean(expected), abs=1e-4)
    # the random draws agree with the exact mean
    assert np.mean(res["_null"]) == pytest.approx(np.mean(expected), abs=0.01)
    assert all(c.stratum[d].tolist().count(c.stratum[d][0]) == d.size for d in donors(c, et, cases) if d.size)


def test_precedence_p_value_is_uniformish_under_the_null():
    """Under no link at all the one-sided permutation p-value is not small more often than it should be."""
    ps = []
    for seed in range(30):
        c = simulate(SimParams(runs=150, seed=100 + seed)).cohort
        et = event_times(c)
        res, _ = precedence(c, et, DEFINITIONS["consec2"].onset(c.level), draws=2000, boot=200, seed=seed)
        ps.append(res["p"])
    assert np.mean(np.array(ps) < 0.05) <= 0.15
    assert 0.3 < np.median(ps) < 0.7


def test_perm_p_and_row_nanmedian_and_holm():
    assert perm_p_greater(np.zeros(999), 0.0) == 1.0
    assert perm_p_greater(np.zeros(999), 1.0) == pytest.approx(1 / 1000)
    rng = np.random.default_rng(0)
    a = rng.random((300, 21))
    a[rng.random(a.shape) < 0.6] = np.nan
    a[5] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        ref = np.nanmedian(a, axis=1)
    assert np.allclose(row_nanmedian(a), ref, equal_nan=True)
    from statsmodels.stats.multitest import multipletests
    p = [0.01, 0.04, 0.03, 0.2, None, 0.005]
    ours = holm(p)
    ref = multipletests([x for x in p if x is not None], method="holm")[1]
    assert ours[4] is None
    assert np.allclose([x for x in ours if x is not None], ref)


# -- hazard --------------------------------------------------------------------------------------
def test_restricted_cubic_spline_is_linear_beyond_the_outer_knots():
    x = np.linspace(0, 60, 601)
    knots = np.array([5.0, 15.0, 30.0, 45.0])
    basis = rcs_basis(x, knots)
    assert basis.shape == (601, 3)
    tail = x > 45
    second = np.diff(basis[tail], 2, axis=0)
    assert np.allclose(second, 0, atol=1e-9)
    head = x < 5
    assert np.allclose(basis[head, 1:], 0)
    assert spline_knots(np.array([1.0, 2.0, 3.0])).size == 0


def test_hazard_rows_start_at_step_two_and_stop_at_the_first_event():
    c = Cohort.from_records([rec("a", [0, 2, 0, 0, 0], [0, 0, 0, D1, 0]), rec("b", [0, 0, 0], [0, 0, 0])])
    et = event_times(c)
    rows = hazard_rows(c, et, EXPOSURES["prev_level2"].compute(c))
    assert rows.run.tolist() == [0, 0, 0, 1, 1]
    assert rows.step.tolist() == [2, 3, 4, 2, 3]
    assert rows.y.tolist() == [0, 0, 1, 0, 0]
    assert rows.exposure.tolist() == [0, 1, 0, 0, 0]  # the previous step's tone


def test_hazard_matches_a_direct_statsmodels_fit():
    import statsmodels.api as sm
    sim = simulate(SimParams(runs=300, effect=3, seed=2, models=("a", "b")))
    c = sim.cohort
    et = event_times(c)
    res = fit_hazard(c, et)
    rows = hazard_rows(c, et, EXPOSURES["prev_level2"].compute(c))
    knots = spline_knots(rows.step)
    X = np.column_stack([np.ones_like(rows.y), rcs_basis(rows.step, knots), rows.exposure, rows.fails,
                         (rows.model == 1).astype(float), (rows.scenario == 1).astype(float)])
    ref = sm.GLM(rows.y, X, family=sm.families.Binomial()).fit(cov_type="cluster",
                                                                cov_kwds={"groups": rows.run})
    k = 1 + knots.size - 1
    assert res["odds_ratio"] == pytest.approx(math.exp(ref.params[k]), rel=1e-3)
    assert res["ci_low"] == pytest.approx(math.exp(ref.params[k] - 1.959964 * ref.bse[k]), rel=1e-3)
    assert res["n_events"] == int(rows.y.sum()) and res["n_runs"] == np.unique(rows.run).size
    assert res["by_model"]["estimable"] and len(res["by_model"]["models"]) == 2


def test_hazard_not_estimable_cases_say_why():
    no_d1 = Cohort.from_records([rec(f"r{i}", [0, 2, 2, 0]) for i in range(30)])
    res = fit_hazard(no_d1, event_times(no_d1))
    assert res["estimable"] is False and "no first D1 events" in res["reason"]
    assert res["odds_ratio"] is None and res["n_events"] == 0
    flat = Cohort.from_records([rec(f"r{i}", [0] * 6, [0] * (i % 5) + [D1] + [0] * (5 - i % 5)) for i in range(40)])
    res = fit_hazard(flat, event_times(flat))
    assert res["estimable"] is False and "never varies" in res["reason"]
    few = simulate(SimParams(runs=40, seed=1, base_hazard=0.001, failure_slope=0.0)).cohort
    res = fit_hazard(few, event_times(few))
    assert res["estimable"] is False and "at least 10 are needed" in res["reason"]


# -- case-time-control ---------------------------------------------------------------------------
def test_conditional_logit_closed_form_matches_statsmodels():
    from statsmodels.discrete.conditional_models import ConditionalLogit
    rng = np.random.default_rng(3)
    exposed = rng.random((150, 20)) < 0.35
    scored = np.ones_like(exposed)
    runs = np.arange(150)
    times = rng.integers(5, 20, 150)
    sets = _window_sets(exposed, scored, runs, times, np.ones(150), K=4)
    beta, se, n_inf = _fit(sets)
    # the same matched sets in long form: one case window, then the control windows
    y, x, g = [], [], []
    for i, t in zip(runs, times):
        cols = [t - 1] + list(range(max(0, t - 1 - 4), t - 1))
        for k, col in enumerate(cols):
            y.append(1.0 if k == 0 else 0.0)
            x.append(float(exposed[i, col]))
            g.append(i)
    ref = ConditionalLogit(np.array(y), np.array(x)[:, None], groups=np.array(g)).fit(disp=0)
    assert beta == pytest.approx(ref.params[0], abs=2e-4)  # statsmodels stops at a looser tolerance
    # sandwich SE with one set per cluster is close to the model-based SE
    assert se == pytest.approx(ref.bse[0], rel=0.25)
    assert n_inf == int(sets.informative().sum())


def test_case_time_control_removes_a_time_trend_and_run_level_traits():
    res = [case_time_control(s.cohort, event_times(s.cohort))
           for s in (simulate(SimParams(runs=800, seed=k, confounding=1.0)) for k in range(3))]
    for r in res:
        assert r["estimable"]
        assert r["time_control"]["odds_ratio"] > 1.1      # frustration drifts up with time
        assert r["ci_low"] <= 1 <= r["ci_high"]          # ...and the ratio removes it


def test_case_time_control_not_estimable_without_cases():
    c = Cohort.from_records([rec(f"r{i}", [0, 2, 2, 0]) for i in range(5)])
    res = case_time_control(c, event_times(c))
    assert res["estimable"] is False and res["odds_ratio"] is None and "no runs with a first D1" in res["reason"]
    empty = _Sets(*(np.zeros(0) for _ in range(5)))
    assert _fit(empty) is None
