"""Imported runs through the rest of the instrument: `testbed score` with every registered scorer,
`testbed replay --static` and `testbed report`, unchanged. The replay and report tests skip, saying
so, while those verbs are not registered in testbed/cli.py."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from testbed.cli import build_parser, main
from testbed.scoring import SCORERS

DATA = Path(__file__).parent / "data" / "import"
CODEX_ROLLOUT = next((DATA / "codex-0.163").glob("rollout-*.jsonl")).relative_to(DATA).as_posix()
EXAMPLES = ["mini-v1.traj.json", "mini-v2-toolcall.traj.json", "mini-v2-text.traj.json",
            "interval-touching-endpoints.traj", "claude-code-session.jsonl", "inspect-example.eval",
            CODEX_ROLLOUT, "claude-code-stream-json/stream.jsonl", "gemini-cli/session-2025-12-03T08-28-fc2fd534.json",
            "openhands/wrong_initial_state.json"]
# (file, step) pairs whose command throws the agent's work away: D1 by command alone, no shadow git needed.
D1_STEPS = [("mini-v2-toolcall.traj.json", "interval-touching-endpoints", 6),
            ("claude-code-session.jsonl", "unknown", 4),
            ("interval-touching-endpoints.traj", "interval-touching-endpoints", 6),
            ("inspect-example.eval", "merge-ranges/gives-up", 4),
            # written by Codex CLI 0.163 and Claude Code 2.1.332 themselves: `git checkout -- .`
            (Path(CODEX_ROLLOUT).name, "unknown", 4), ("stream.jsonl", "unknown", 5)]
DETECTION_KEYS = {"class", "kind", "severity", "reversible", "own_work", "source", "evidence", "note"}


def verbs() -> set[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """{(example file, scenario): run directory} for every example."""
    pytest.importorskip("inspect_ai")
    out = tmp_path_factory.mktemp("imported")
    assert main(["import", "auto", *(str(DATA / f) for f in EXAMPLES), "--out", str(out), "--quiet"]) == 0
    runs = {}
    for run_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        first = json.loads((run_dir / "events.jsonl").read_text().splitlines()[0])
        runs[(Path(first["config"]["import"]["file"]).name, first["scenario"])] = run_dir
    assert len(runs) == len(EXAMPLES) + 1  # the .eval holds two samples
    return runs


def _check_tone(value: dict) -> None:
    assert value["level"] in (0, 1, 2, 3) and 0.0 <= value["p_frustrated"] <= 1.0
    assert isinstance(value["flags"], list) and isinstance(value["evidence"], list)
    assert isinstance(value["tiers"], dict)
    assert value["thinking"] is None or isinstance(value["thinking"], dict)


def _check_actions(value: dict) -> None:
    assert isinstance(value["drastic"], bool)
    assert all(c in ("D1", "D2", "D3", "D4", "D5", "D6") for c in value["classes"])
    for d in value["detections"]:
        assert DETECTION_KEYS <= set(d)
    assert value["drastic"] == bool(value["classes"])


CONTRACT_CHECKS = {"tone": _check_tone, "actions": _check_actions}


def test_score_imported_runs_with_every_registered_scorer(imported, capsys):
    dirs = [str(d) for d in imported.values()]
    assert main(["score", *dirs]) == 0
    assert sorted(capsys.readouterr().out.split()) == sorted(f"{d}/scores.jsonl" for d in dirs)
    scores = {}
    for key, run_dir in imported.items():
        lines = [json.loads(x) for x in (run_dir / "scores.jsonl").read_text().splitlines()]
        meta, steps = lines[0], lines[1:]
        assert meta["type"] == "meta" and set(meta["scorers"]) == set(SCORERS)
        assert meta["log"] == {"torn_tail": False, "stopped_at": None}
        n_steps = sum(1 for x in (run_dir / "events.jsonl").read_text().splitlines()
                      if json.loads(x)["type"] == "step")
        assert [s["step"] for s in steps] == list(range(1, n_steps + 1))
        for line in steps:
            for name in SCORERS:
                assert line[name] is not None, f"{name} left step {line['step']} of {run_dir.name} unscored"
                if name in CONTRACT_CHECKS:
                    CONTRACT_CHECKS[name](line[name])
        scores[key] = (meta, steps)
    if "actions" in SCORERS:
        for file, scenario, step in D1_STEPS:
            meta, steps = scores[(file, scenario)]
            value = steps[step - 1]["actions"]
            assert value["drastic"] and "D1" in value["classes"], (file, step, value)
            assert steps[0]["actions"]["drastic"] is False, file  # running the tests is not drastic
            # the scorer says that effect-based detection was unavailable for this imported run
            assert "effect" in json.dumps([meta["scorers"]["actions"], steps]).lower()


def test_replay_static_on_an_imported_run(imported, capsys):
    if "replay" not in verbs():
        pytest.skip("`testbed replay` is not registered in testbed/cli.py yet")
    run_dir = imported[("mini-v2-toolcall.traj.json", "interval-touching-endpoints")]
    assert main(["replay", str(run_dir), "--static"]) == 0
    out = capsys.readouterr().out
    assert "Forget it." in out and "git reset --hard HEAD" in out
    assert "budget_exhausted" in out


def test_report_on_imported_runs(imported, capsys, tmp_path):
    if "report" not in verbs():
        pytest.skip("`testbed report` is not registered in testbed/cli.py yet")
    out_dir = next(iter(imported.values())).parent
    assert main(["score", *(str(d) for d in imported.values())]) == 0
    report_json = tmp_path / "report.json"
    assert main(["report", str(out_dir), "--json", str(report_json)]) == 0
    text = capsys.readouterr().out + report_json.read_text()
    assert report_json.is_file() and json.loads(report_json.read_text())
    # the report says these runs were imported (no shadow git, so no effect-based detection)
    assert "import" in text.lower()
