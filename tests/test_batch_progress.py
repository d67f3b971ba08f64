"""The live view rendered by a real rich Console, the tone a worker reports per step, and the seam
to the report verb."""
import json
from pathlib import Path

from rich.console import Console

from testbed.batch.progress import BatchProgress
from testbed.batch.spec import PlannedRun
from testbed.batch.summary import run_report
from testbed.batch.worker import _step_tone
from testbed.log import Narration, StepEvent


def _run(i: int, model: str = "simulated") -> PlannedRun:
    return PlannedRun(run_id=f"run-{i}", position=i, scenario="interval-off-by-one", model=model, seed=i)


def test_live_view_shows_bar_workers_tone_tests_counts_and_cost():
    console = Console(record=True, width=120, force_terminal=True, color_system=None)
    ui = BatchProgress(console, total=4, slots=3, title="nightly", cost_budget=5.0, live=False)
    ui.live_mode = True  # render only; no Live needed to draw a frame
    ui.run_started(0, _run(0), max_steps=30)
    ui.run_started(1, _run(1, "openai:gpt-4o-mini"), max_steps=30)
    from testbed.batch.messages import decode
    ui.step(0, decode({"ev": "step", "run_id": "run-0", "index": 7, "tone": {"level": 2, "p_frustrated": 0.81},
                       "tests": {"passed": 3, "failed": 2, "errors": 0, "all_passed": False}, "cost_usd": 0.0}))
    ui.step(1, decode({"ev": "step", "run_id": "run-1", "index": 3, "tone": None,
                       "tests": {"passed": 3, "failed": 2, "errors": 1, "all_passed": False}, "cost_usd": None}))
    ui.step(1, decode({"ev": "step", "run_id": "stale-run", "index": 99}))  # a late message of an ended run
    ui.run_ended(2, "run-9", "solved")
    ui.run_ended(2, "run-8", "gave_up")
    ui.set_cost(1.25, 1)
    console.print(ui.render())
    text = console.export_text()
    assert "nightly" in text and "2/4" in text and "ETA" in text
    assert "7/30" in text and "tone 2 p=0.81" in text      # tone when a scorer is registered
    assert "3/30" in text and "tests ✗ 3" in text          # else the test status
    assert "openai:gpt-4o-mini" in text and "idle" in text  # slot 2 has nothing to do
    assert "solved 1" in text and "gave_up 1" in text
    assert "cost $0.00" not in text and "$1.25 of $5.00" in text and "1 run(s) of unknown cost" in text
    assert "99" not in text


def test_plain_mode_prints_one_line_per_event():
    console = Console(record=True, width=200, force_terminal=False)
    ui = BatchProgress(console, total=2, slots=1, title="t", live=False)
    with ui:
        ui.run_started(0, _run(0), 5)
        ui.run_ended(0, "run-0", "budget_exhausted", "5 steps, $0.0000")
        ui.note("budget: reached")
    lines = console.export_text().splitlines()
    assert lines[0].startswith("start  run-0")
    assert lines[1].startswith("[1/2] budget_exhausted  run-0  5 steps")
    assert lines[2] == "budget: reached"


class _ToneScorer:
    name = "tone"

    def score_run(self, run):
        return {s.index: {"level": 3 if "hopeless" in s.narration.text else 0, "p_frustrated": 0.9,
                          "flags": []} for s in run.steps}


def test_step_tone_scores_the_step_just_taken(tmp_path):
    step = StepEvent(run_id="r", index=4, narration=Narration(text="This is hopeless."))
    assert _step_tone(_ToneScorer(), tmp_path, step).model_dump() == {"level": 3, "p_frustrated": 0.9}


def test_the_batch_ends_with_the_precedence_report(tmp_path):
    from testbed.cli import main
    console = Console(record=True)
    missing = run_report(tmp_path / "nothing", tmp_path / "r.json", console)
    assert missing.startswith("the report") and "nothing" in missing
    assert main(["simulate", "--runs", "40", "--effect", "3", "--seed", "1",
                 "--out", str(tmp_path / "runs")]) == 0
    note = run_report(tmp_path / "runs", tmp_path / "report.json", console)
    assert note == f"report written to {tmp_path / 'report.json'}"
    report = json.loads((tmp_path / "report.json").read_text())
    assert {"ordering", "precedence", "hazard"} <= set(report)
