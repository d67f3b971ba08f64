"""Reading run directories: synthetic runs round-trip exactly, logs written by testbed.log read the
same with and without the prefix fast path, and bad, torn, stale or missing files are handled."""
import json
import shutil

import numpy as np
import pytest

import analysis.load as load
from analysis.load import RunReadError, find_run_dirs, load_cohort, read_run
from analysis.synthetic import SimParams, simulate, write_runs
from testbed.log import EventWriter, Narration, RunFinished, RunStarted, StepEvent, ToolCall, TruthEvent
from testbed.log import TestsEvent as HarnessTests  # (a Test* name would be collected by pytest)
from testbed.log import parse_event, read_events

FIELDS = ["n_steps", "step_index", "level", "p_frustrated", "remorse", "give_up_flag", "classes",
          "fails_before", "truth_level", "truth_classes", "model", "scenario"]


@pytest.fixture(scope="module")
def sim_runs(tmp_path_factory):
    sim = simulate(SimParams(runs=60, seed=5, effect=2, models=("m-b", "m-a"), scenarios=("x", "y", "z"),
                             silent=0.2, reversed=0.2))
    root = tmp_path_factory.mktemp("sim")
    write_runs(sim, root)
    return sim, root


def copy_runs(src, dst, n=None):
    dirs = sorted(p for p in src.iterdir() if p.is_dir())[:n]
    for d in dirs:
        shutil.copytree(d, dst / d.name)
    return sorted(p for p in dst.iterdir() if p.is_dir())


def test_synthetic_runs_round_trip_exactly(sim_runs):
    sim, root = sim_runs
    res = load_cohort([root])
    a, b = sim.cohort, res.cohort
    assert res.found == 60 and b.n == 60 and not res.unscored and not res.excluded
    assert a.run_ids == b.run_ids and a.outcome == b.outcome
    assert a.model_names == b.model_names == ["m-a", "m-b"]
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f


def test_synthetic_logs_are_valid_testbed_logs(sim_runs):
    _, root = sim_runs
    run = sorted(root.iterdir())[0]
    events = read_events(run, strict=True).events  # pydantic validation of every line
    kinds = {e.type for e in events}
    assert {"run_started", "step", "tests", "truth", "run_finished"} <= kinds
    for line in (run / "events.jsonl").read_text().splitlines():
        obj = json.loads(line)
        assert parse_event(obj).model_dump(mode="json") == obj  # every declared field, nothing lost
    scores = [json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()]
    assert scores[0]["type"] == "meta" and set(scores[0]["scorers"]) == {"tone", "actions"}
    step = scores[1]
    assert set(step["tone"]) >= {"level", "p_frustrated", "flags", "evidence", "tiers", "thinking"}
    assert set(step["actions"]) == {"drastic", "classes", "detections"}
    summary = json.loads((run / "run.json").read_text())
    assert summary["outcome"] in ("solved", "gave_up", "budget_exhausted")


def write_pydantic_run(d, narrations):
    """A run written by testbed.log's own writer, with narration that imitates log syntax."""
    d.mkdir()
    with EventWriter(d / "events.jsonl", d.name) as log:
        log.write(RunStarted(run_id="", scenario="sc", model="mo", seed=1,
                             config={"trap": {"type": "step", "index": 99}}))
        log.write(HarnessTests(run_id="", step=0, trigger="initial", failed=3))
        for k, text in enumerate(narrations, 1):
            log.write(StepEvent(run_id="", index=k, narration=Narration(text=text),
                                tool_calls=[ToolCall(name="bash", arguments={"index": 7, "type": "step"})]))
            log.write(TruthEvent(run_id="", step=k, frustration=0.5, level=k % 4, drastic=None))
            log.write(HarnessTests(run_id="", step=k, trigger="auto", failed=k % 2, passed=3,
                                 all_passed=k % 2 == 0, output='"type":"tests","step":1,"failed":9'))
        log.write(RunFinished(run_id="", outcome="budget_exhausted", steps=len(narrations)))
    with open(d / "scores.jsonl", "w") as fh:
        fh.write(json.dumps({"v": 1, "type": "meta", "run_id": d.name, "scorers": {}}) + "\n")
        for k in range(1, len(narrations) + 1):
            fh.write(json.dumps({"v": 1, "type": "step", "run_id": d.name, "step": k,
                                 "tone": {"level": k % 4, "p_frustrated": 0.1 * k, "flags": ["remorse"] if k == 3 else []},
                                 "actions": {"drastic": k == 4, "classes": ["D1"] if k == 4 else [],
                                             "detections": []}}) + "\n")


def test_prefix_fast_path_reads_what_a_full_parse_reads(tmp_path, monkeypatch):
    tricky = ['{"v":1,"run_id":"x","seq":3,"ts":"t","type":"step","index":42,', 'plain "quoted" text',
              '"index":5}', "ünïcödé ✓", "\\\"index\\\":3"]
    write_pydantic_run(tmp_path / "r1", tricky)
    fast = read_run(tmp_path / "r1").record
    assert fast.step_index == [1, 2, 3, 4, 5]
    assert fast.fails_before == [0, 1, 1, 2, 2]      # failed runs at steps 1, 3, 5 (initial not counted)
    assert fast.remorse[2] and fast.classes[3] == 1
    assert fast.truth_level == [1.0, 2.0, 3.0, 0.0, 1.0]
    monkeypatch.setattr(load, "_head_type", lambda line: (None, 0))
    slow = read_run(tmp_path / "r1").record
    assert slow == fast


def test_fast_path_recognises_every_step_and_tests_line_written_by_testbed_log(tmp_path):
    write_pydantic_run(tmp_path / "r1", ["a", 'b","seq":3,"ts":"x","type":"tests"'])
    for line in (tmp_path / "r1" / "events.jsonl").read_text().splitlines():
        kind, pos = load._head_type(line)
        assert kind == json.loads(line)["type"]
        if kind == "step":
            assert load._STEP_TAIL.match(line, pos)
        if kind == "tests":
            assert load._TESTS_TAIL.match(line, pos)
    assert load._head_type('{"v":1,"narration":{"x":1},"run_id":"a","seq":1,"ts":"t","type":"step"}') == (None, 0)


def test_parallel_reading_gives_the_same_cohort(sim_runs, tmp_path, monkeypatch):
    _, root = sim_runs
    copy_runs(root, tmp_path)
    bad = sorted(tmp_path.iterdir())[7] / "events.jsonl"
    bad.write_text(bad.read_text().replace('"type":"truth"', '"type":"truth', 1))
    serial = load_cohort([tmp_path], workers=1)
    monkeypatch.setattr(load, "PARALLEL_MIN_RUNS", 1)
    parallel = load_cohort([tmp_path], workers=2)
    assert serial.excluded == parallel.excluded and len(serial.excluded) == 1
    assert serial.cohort.run_ids == parallel.cohort.run_ids
    for f in FIELDS:
        x, y = getattr(serial.cohort, f), getattr(parallel.cohort, f)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f


def test_torn_tail_is_skipped_and_counted(sim_runs, tmp_path):
    _, root = sim_runs
    run = copy_runs(root, tmp_path, 1)[0]
    with open(run / "events.jsonl", "a") as fh:
        fh.write('{"v":1,"run_id":"x","seq":999,"ts":"t","type":"step","ind')
    res = load_cohort([tmp_path])
    assert res.cohort.n == 1 and res.torn_tails == 1


def test_bad_line_excludes_the_run_or_fails_in_strict_mode(sim_runs, tmp_path):
    _, root = sim_runs
    runs = copy_runs(root, tmp_path, 3)
    lines = (runs[1] / "events.jsonl").read_text().splitlines(keepends=True)
    lines[4] = "{not json}\n"
    (runs[1] / "events.jsonl").write_text("".join(lines))
    res = load_cohort([tmp_path])
    assert res.cohort.n == 2 and len(res.excluded) == 1
    assert res.excluded[0][1].endswith("events.jsonl:5: not valid JSON (Expecting property name enclosed in double quotes at column 2)")
    with pytest.raises(RunReadError, match=r"events.jsonl:5: not valid JSON"):
        load_cohort([tmp_path], strict=True)


def test_missing_stale_and_partial_scores_make_a_run_unscored(sim_runs, tmp_path):
    _, root = sim_runs
    runs = copy_runs(root, tmp_path, 5)
    (runs[0] / "scores.jsonl").unlink()
    lines = (runs[1] / "scores.jsonl").read_text().splitlines(keepends=True)
    (runs[1] / "scores.jsonl").write_text("".join(lines[:-2]))                    # stale: last step missing
    objs = [json.loads(x) for x in (runs[2] / "scores.jsonl").read_text().splitlines()]
    for o in objs:
        o.pop("tone", None)
    (runs[2] / "scores.jsonl").write_text("".join(json.dumps(o) + "\n" for o in objs))  # no tone scorer
    objs = [json.loads(x) for x in (runs[3] / "scores.jsonl").read_text().splitlines()]
    objs[2]["tone"] = None                                                         # one step unscored
    (runs[3] / "scores.jsonl").write_text("".join(json.dumps(o) + "\n" for o in objs))
    res = load_cohort([tmp_path])
    reasons = dict((p.split("/")[-1], r) for p, r in res.unscored)
    assert res.cohort.n == 2 and len(res.unscored) == 3
    assert reasons[runs[0].name] == "no scores.jsonl"
    assert "covers" in reasons[runs[1].name] and "testbed score" in reasons[runs[1].name]
    assert reasons[runs[2].name] == "scores.jsonl has no tone scores"
    assert res.steps_missing_tone == 1
    row = res.cohort.run_ids.index(runs[3].name)
    assert np.isnan(res.cohort.level[row, 1])


def test_find_run_dirs_searches_folders_but_not_inside_runs(sim_runs, tmp_path):
    _, root = sim_runs
    (tmp_path / "a" / "b").mkdir(parents=True)
    copy_runs(root, tmp_path / "a", 2)
    copy_runs(root, tmp_path / "a" / "b", 1)
    (tmp_path / "a" / sorted(root.iterdir())[0].name / "nested").mkdir()
    found = find_run_dirs([tmp_path])
    assert len(found) == 3
    assert find_run_dirs([found[0] / "events.jsonl"]) == [found[0]]
    assert find_run_dirs([found[0], tmp_path]) == found[:1] + [f for f in found if f != found[0]]
    with pytest.raises(FileNotFoundError, match="no such file"):
        find_run_dirs([tmp_path / "nope"])


def test_tone_source_max_takes_the_thinking_into_account(sim_runs, tmp_path):
    _, root = sim_runs
    run = copy_runs(root, tmp_path, 1)[0]
    objs = [json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()]
    objs[2]["tone"].update(level=0, flags=[])
    objs[2]["tone"]["thinking"] = {"level": 3, "p_frustrated": 0.97, "flags": ["remorse"]}
    (run / "scores.jsonl").write_text("".join(json.dumps(o) + "\n" for o in objs))
    text = load_cohort([tmp_path]).cohort
    both = load_cohort([tmp_path], tone_source="max").cohort
    assert text.level[0, 1] == 0 and not text.remorse[0, 1]
    assert both.level[0, 1] == 3 and both.remorse[0, 1] and both.p_frustrated[0, 1] == 0.97
