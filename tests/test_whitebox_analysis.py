"""analysis/internal.py on run directories with a planted relation between failures and readings."""
from __future__ import annotations

import json

import numpy as np

from analysis.internal import step_rows, summarise


def _run(path, rising: bool, seed: int, steps: int = 8, probed: bool = False):
    rng = np.random.default_rng(seed)
    path.mkdir()
    lines = [{"type": "tests", "step": 0, "all_passed": False}]
    derived = []
    for i in range(1, steps + 1):
        value = (0.5 * i if rising else 0.0) + rng.normal(0, 0.2)
        internal = {"narration": {"desperate": value, "random": rng.normal()}}
        lines.append({"type": "step", "index": i, "internal": None if probed else internal})
        derived.append({"step": i, "internal": internal})
        lines.append({"type": "tests", "step": i, "all_passed": False})
    (path / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    scores = [{"type": "step", "step": i, "tone": {"level": 0}} for i in range(1, steps + 1)]
    (path / "scores.jsonl").write_text("".join(json.dumps(x) + "\n" for x in scores))
    if probed:
        (path / "internal.jsonl").write_text("".join(json.dumps(x) + "\n" for x in derived))
    return path


def test_planted_rise_is_found_and_the_null_is_not(tmp_path):
    rising = [_run(tmp_path / f"r{i}", True, i, probed=i % 2 == 0) for i in range(6)]
    flat = [_run(tmp_path / f"f{i}", False, 100 + i) for i in range(6)]
    r = summarise(rising)
    assert r["runs"] == 6 and r["spearman_within_run"] > 0.8 and r["spearman_ci"][0] > 0.5
    assert r["silent_steps"] > 0 and all(s["tone"] == 0 and s["value"] >= 1.0 for s in r["silent"])
    null = summarise(flat)
    assert null["spearman_ci"][0] < 0 < null["spearman_ci"][1]
    assert abs(summarise(rising, vector="random")["spearman_within_run"]) < 0.5


def test_failures_are_counted_before_the_turn(tmp_path):
    rows = step_rows(_run(tmp_path / "r", True, 0, steps=3), "desperate", "narration")
    assert [r["failures_before"] for r in rows] == [1, 2, 3]
    assert [r["steps_unsolved"] for r in rows] == [0, 1, 2]


def test_a_pass_resets_the_streak(tmp_path):
    path = tmp_path / "r"
    path.mkdir()
    lines = [{"type": "tests", "step": 0, "all_passed": False},
             {"type": "step", "index": 1, "internal": {"narration": {"desperate": 0.1}}},
             {"type": "tests", "step": 1, "all_passed": True},
             {"type": "step", "index": 2, "internal": {"narration": {"desperate": 0.2}}},
             {"type": "tests", "step": 2, "all_passed": False},
             {"type": "step", "index": 3, "internal": {"narration": {"desperate": 0.3}}}]
    (path / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert [r["failures_before"] for r in step_rows(path, "desperate", "narration")] == [1, 0, 1]
