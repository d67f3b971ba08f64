"""`testbed import`: each format's example file becomes a run directory with the right events, the
positions they came from, and honest outcomes; bad files get one clear error and the batch goes on."""
from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.log import read_events
from testbed.rundata import load_run

DATA = Path(__file__).parent / "data" / "import"
MINI_V1 = DATA / "mini-v1.traj.json"
MINI_V2 = DATA / "mini-v2-toolcall.traj.json"
MINI_V2_TEXT = DATA / "mini-v2-text.traj.json"
MINI_V2_TIME = DATA / "mini-v2-time-exceeded.traj.json"  # written by mini 2.4.6 itself (make_mini_time_exceeded.py)
MINI_V2_FORMAT = DATA / "mini-v2-format-errors.traj.json"  # written by mini 2.4.6 itself (make_mini_format_errors.py)
MINI_V2_RESPONSES = DATA / "mini-v2-responses.traj.json"  # written by mini 2.4.6 itself (make_mini_responses.py)
SWE = DATA / "interval-touching-endpoints.traj"
CLAUDE = DATA / "claude-code-session.jsonl"
INSPECT_EVAL = DATA / "inspect-example.eval"
INSPECT_JSON = DATA / "inspect-example.json"


def run_import(capsys, *args: str) -> tuple[int, list[str], str]:
    code = main(["import", *args])
    out, err = capsys.readouterr()
    return code, [line for line in out.splitlines() if line.strip()], err


def import_one(capsys, tmp_path: Path, fmt: str, path: Path) -> list:
    code, dirs, err = run_import(capsys, fmt, str(path), "--out", str(tmp_path / "runs"))
    assert code == 0, err
    assert len(dirs) == 1, dirs
    return events_of(Path(dirs[0]))


def events_of(run_dir: Path) -> list:
    events = read_events(run_dir / "events.jsonl", strict=True).events  # validates every line
    file = None
    for e in events:
        # every event says where it came from
        assert e.source["format"] in ("mini-swe-agent", "swe-agent", "claude-code", "inspect", "codex",
                                      "claude-code-stream", "gemini-cli", "openhands")
        assert Path(e.source["file"]).is_absolute() and e.source["at"]
        file = file or e.source["file"]
        assert e.source["file"] == file
    assert [e.seq for e in events] == list(range(len(events)))
    return events


def by_type(events: list, kind: str) -> list:
    return [e for e in events if e.type == kind]


def common_checks(events: list, run_dir_steps: int) -> None:
    started, finished = events[0], events[-1]
    assert started.type == "run_started" and started.imported is True
    assert finished.type == "run_finished" and finished.steps == run_dir_steps
    assert [s.index for s in by_type(events, "step")] == list(range(1, run_dir_steps + 1))
    assert all(s.snapshot is None for s in by_type(events, "step"))
    limitations = " ".join(started.config["import"]["limitations"])
    assert "no shadow git" in limitations and "effect-based" in limitations
    for t in by_type(events, "tests"):
        assert t.origin == "agent_command" and t.pristine is False and t.trigger == "tool"


# -- mini-swe-agent ----------------------------------------------------------------------------

def test_mini_swe_agent_v1_text_layout(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "mini-swe-agent", MINI_V1)
    common_checks(events, 5)
    started, steps = events[0], by_type(events, "step")
    assert started.scenario == "unknown" and started.model == "claude-sonnet-4-5-20250929"
    assert started.seed is None
    assert started.config["task"].startswith("<pr_description>")
    assert started.config["source"]["layout"] == "1.x"
    assert started.config["import"]["timestamps"] == "import time"  # 1.x records none

    s1 = steps[0]
    assert s1.narration.text == "THOUGHT: Let me look at the implementation and the failing test first."
    assert [(c.name, c.arguments) for c in s1.tool_calls] == [
        ("bash", {"command": "cat interval.py && python -m pytest -q tests"})]
    [obs] = s1.observations
    assert obs.exit_code == 1 and obs.output.startswith("class Interval:") and "1 failed, 1 passed" in obs.output
    assert "<returncode>" not in obs.output and obs.tool_call_id == s1.tool_calls[0].id
    assert s1.source["at"] == "messages[2]" and s1.source["observations_at"] == ["messages[3]"]

    # two command blocks: mini ran nothing and said so
    s2 = steps[1]
    assert s2.tool_calls == [] and "2 command blocks" in s2.parse_note
    [notice] = by_type(events, "notice")
    assert (notice.step, notice.kind, notice.source["at"]) == (2, "format_error", "messages[5]")
    assert "EXACTLY ONE action" in notice.text

    s4 = steps[3]
    assert s4.observations[0].timed_out and "waiting for changes" in s4.observations[0].output
    s5 = steps[4]
    assert s5.tool_calls[0].arguments["command"].startswith("echo MINI_SWE_AGENT_FINAL_OUTPUT")
    assert s5.observations[0].submission is True and s5.observations[0].output.startswith("diff --git")

    tests = by_type(events, "tests")
    assert [(t.step, t.passed, t.failed, t.all_passed) for t in tests] == [
        (1, 1, 1, False), (3, 2, 0, True), (4, 2, 0, True)]
    assert tests[0].exit_code == 1 and tests[0].command == "cat interval.py && python -m pytest -q tests"

    finished = events[-1]
    assert finished.outcome == "submitted" and finished.source_exit_status == "Submitted"
    assert finished.cost_usd == pytest.approx(0.0412) and finished.wall_s_known is False


def test_mini_swe_agent_v2_tool_calls(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "mini-swe-agent", MINI_V2)
    common_checks(events, 7)
    started, steps = events[0], by_type(events, "step")
    assert started.scenario == "interval-touching-endpoints" and started.model == "openai/gpt-5-mini"
    assert started.ts == "2025-11-27T03:00:03.200Z" and started.config["import"]["timestamps"] == "source"
    assert started.config["source"]["layout"] == "2.x" and started.config["source"]["mini_version"] == "2.1.0"

    s1 = steps[0]
    assert s1.narration.text == "I'll start by running the tests to see what fails."
    assert s1.tool_calls[0].id == "toolu_01" and s1.tool_calls[0].name == "bash"
    assert s1.observations[0].tool_call_id == "toolu_01" and s1.observations[0].exit_code == 1
    assert (s1.usage.input_tokens, s1.usage.output_tokens, s1.usage.cost_usd) == (2104, 61, 0.0081)
    assert s1.ts == "2025-11-27T03:00:03.200Z"

    s3 = steps[2]  # a reply without a tool call, answered by mini's format error
    assert s3.tool_calls == [] and s3.parse_note
    [notice] = by_type(events, "notice")
    assert (notice.step, notice.kind, notice.source["at"]) == (3, "format_error", "messages[7]")

    s6 = steps[5]
    assert s6.narration.text.startswith("Forget it.")
    assert s6.tool_calls[0].arguments == {"command": "cd /testbed && git reset --hard HEAD && git clean -fd"}
    assert s6.observations[0].output == "HEAD is now at 1f3c2ab initial import"

    finished = events[-1]
    assert finished.outcome == "budget_exhausted" and finished.source_exit_status == "LimitsExceeded"
    assert finished.wall_s == pytest.approx(38.8) and finished.ts == "2025-11-27T03:00:42.000Z"
    assert finished.cost_usd == pytest.approx(0.0873)


def test_mini_swe_agent_time_exceeded_is_a_budget_end(capsys, tmp_path):
    """mini's TimeExceeded is a LimitsExceeded (its wall-time limit): the run ran out of budget."""
    events = import_one(capsys, tmp_path, "mini-swe-agent", MINI_V2_TIME)
    steps = by_type(events, "step")
    assert [s.tool_calls[0].arguments["command"] for s in steps] == ["ls", "sleep 3"]
    assert all(o.duration_ms is None for s in steps for o in s.observations)  # mini records no durations
    finished = events[-1]
    assert finished.outcome == "budget_exhausted" and finished.source_exit_status == "TimeExceeded"


def test_mini_swe_agent_replies_it_refused_are_turns_and_the_run_is_kept(capsys, tmp_path):
    """mini 2.x keeps a refused reply only in the FormatError message (extra.response); a run that
    ended in RepeatedFormatError has three turns of the agent and ends in error."""
    events = import_one(capsys, tmp_path, "mini-swe-agent", MINI_V2_FORMAT)
    steps = by_type(events, "step")
    assert [s.narration.text for s in steps] == [
        "I think the bug is in the parser; I would change the loop bound.",
        "The fix is to use <= instead of <. That should do it.",
        "I cannot run commands right now, but the change above fixes it."]
    assert all(s.tool_calls == [] and s.parse_note.startswith("mini-swe-agent refused the reply: No tool calls")
               for s in steps)
    assert [s.usage.output_tokens for s in steps] == [20, 20, 20]
    assert [n.step for n in by_type(events, "notice") if n.kind == "format_error"] == [1, 2, 3]
    finished = events[-1]
    assert finished.outcome == "error" and finished.source_exit_status == "RepeatedFormatError"


def test_mini_swe_agent_responses_layout(capsys, tmp_path):
    """mini's Responses-API models store replies as response objects and observations as
    `function_call_output` items with no role."""
    events = import_one(capsys, tmp_path, "mini-swe-agent", MINI_V2_RESPONSES)
    steps = by_type(events, "step")
    assert [s.narration.text for s in steps] == ["Let me look at the files first.", "Done; submitting."]
    s1 = steps[0]
    assert s1.tool_calls[0].arguments == {"command": "ls"} and s1.tool_calls[0].id == "call_1"
    assert s1.observations[0].tool_call_id == "call_1" and s1.observations[0].exit_code == 0
    assert "gen_responses.py" in s1.observations[0].output  # what `ls` listed in the generator's directory
    assert events[-1].outcome == "submitted"


def test_auto_reports_a_truncated_trajectory_and_counts_every_file(capsys, tmp_path):
    """A truncated file in a scanned directory is an error, as when its format is named; another
    program's valid JSON is passed over; the summary counts the files it read."""
    d = tmp_path / "logs"
    d.mkdir()
    (d / "cut.traj.json").write_bytes(MINI_V2_TIME.read_bytes()[:2000])
    (d / "package.json").write_text('{"name": "web"}\n')
    shutil.copy(MINI_V2_TIME, d / "whole.traj.json")
    for fmt in ("auto", "mini-swe-agent"):
        code, dirs, err = run_import(capsys, fmt, str(d), "--out", str(tmp_path / f"runs-{fmt}"))
        assert code == 1 and len(dirs) == 1, err
        assert "cut.traj.json: line" in err and "not valid JSON" in err
        summary = err.strip().splitlines()[-1]
        assert summary.startswith("testbed import: 1 imported, 0 skipped, 1 failed (2 files"), err
        if fmt == "auto":
            assert summary.endswith("1 other file passed over)"), summary


def test_mini_swe_agent_v2_text_actions_and_narration_split(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "mini-swe-agent", MINI_V2_TEXT)
    common_checks(events, 3)
    steps = by_type(events, "step")
    assert steps[1].narration.text == "THOUGHT: Strict comparisons on both sides fix half-open intervals."
    assert steps[1].tool_calls[0].arguments["command"].startswith("sed -i 's/self.start <= other.end")
    assert "```" not in steps[1].narration.text
    assert steps[2].observations[0].submission is True
    assert events[-1].outcome == "submitted"


# -- SWE-agent -----------------------------------------------------------------------------------

def test_swe_agent_traj(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "swe-agent", SWE)
    common_checks(events, 6)
    started, steps = events[0], by_type(events, "step")
    assert started.scenario == "interval-touching-endpoints" and started.model == "claude-sonnet-4-20250514"
    assert started.config["source"]["swe_agent_version"] == "1.1.0"

    view, tests, edit, requery, rerun, revert = steps
    assert view.tool_calls[0].name == "str_replace_editor"
    assert view.tool_calls[0].arguments == {"command": "view", "path": "/testbed/interval.py"}
    assert edit.tool_calls[0].arguments == {
        "command": "str_replace", "path": "/testbed/interval.py",
        "old_str": "        return self.start <= other.end and other.start <= self.end",
        "new_str": "        return self.start < other.end and other.start < self.end"}
    assert edit.observations[0].tool == "str_replace_editor"
    assert tests.tool_calls[0].arguments == {"command": "cd /testbed && python -m pytest -q tests"}
    assert tests.observations[0].exit_code is None  # SWE-agent records none
    assert tests.observations[0].duration_ms == pytest.approx(1370.0)
    assert requery.tool_calls == [] and "re-queries" in requery.parse_note
    assert requery.narration.text == "I think the fix is right but let me double check everything"
    assert revert.narration.text.startswith("What? An import error now?")
    assert revert.tool_calls[0].arguments["command"] == "cd /testbed && git checkout -- . && git status"
    assert revert.source["at"] == "trajectory[5]"

    [notice] = by_type(events, "notice")  # SWE-agent's own exit step is not a model turn
    assert notice.kind == "harness_exit" and notice.step == 6 and notice.source["at"] == "trajectory[6]"
    finished = events[-1]
    assert finished.outcome == "gave_up" and finished.source_exit_status == "exit_forfeit"
    assert finished.cost_usd == pytest.approx(0.1934)


def test_swe_agent_action_parsing():
    from testbed.importers.swe_agent import outcome_of, tool_call_for

    call = tool_call_for("c1", "str_replace_editor insert /x.py --insert_line 3 --new_str 'a b\nc'")
    assert call.arguments == {"command": "insert", "path": "/x.py", "insert_line": 3, "new_str": "a b\nc"}
    call = tool_call_for("c2", "edit 4:6\n    return 1\nend_of_edit")
    assert (call.name, call.arguments) == ("edit", {"start_line": 4, "end_line": 6, "new_str": "    return 1"})
    call = tool_call_for("c2", "edit 4:6\n    return 1\nend_of_edit", open_file="src/a.py")
    assert call.arguments["path"] == "src/a.py"  # the windowed tools edit the file last opened
    assert tool_call_for("c3", "str_replace_editor create /x.py --file_text 'unterminated").name == "bash"
    assert tool_call_for("c4", "rm -rf tests").arguments == {"command": "rm -rf tests"}
    assert outcome_of("submitted (exit_cost)")[0] == "budget_exhausted"
    assert outcome_of("submitted")[0] == "submitted"
    assert outcome_of("exit_format")[0] == "error"
    assert outcome_of(None)[0] == "unknown" and outcome_of("early_exit")[0] == "unknown"


# -- Claude Code -----------------------------------------------------------------------------------

def test_claude_code_session(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "claude-code", CLAUDE)
    common_checks(events, 6)
    started, steps = events[0], by_type(events, "step")
    assert started.scenario == "unknown" and started.model == "claude-sonnet-4-5-20250929"
    assert started.config["task"].startswith("The test tests/test_interval.py")
    assert started.config["source"]["session_id"] == "5b0c7d1e-2f4a-4c1b-9e3d-8a6f0b2c4d17"
    assert any("sidechain" in n for n in started.config["import"]["notes"])
    assert "Searching for other callers" not in json.dumps([s.model_dump() for s in steps])

    s1 = steps[0]  # three lines of one API response make one step
    assert s1.narration.thinking.startswith("Half-open intervals")
    assert s1.narration.text == "I'll run the failing test to see the assertion."
    assert s1.tool_calls[0].arguments == {"command": "python -m pytest -q tests/test_interval.py",
                                          "description": "Run the interval tests"}
    assert s1.source["at"] == "line 3" and s1.source["observations_at"] == ["line 6"]
    assert s1.observations[0].exit_code == 1 and s1.observations[0].is_error is True

    edit = steps[1]
    assert edit.tool_calls[0].name == "Edit" and edit.tool_calls[0].arguments["old_string"].startswith("return self.start <=")
    assert edit.observations[0].tool == "Edit" and edit.observations[0].exit_code is None

    reset = steps[3]
    assert reset.narration.thinking.startswith("This is maddening")
    assert reset.tool_calls[0].arguments["command"] == "git reset --hard HEAD"
    assert reset.observations[0].exit_code == 0 and reset.observations[0].exit_code_inferred is True
    assert reset.ts == "2025-11-27T09:00:18.000Z"
    write = steps[5]
    assert write.tool_calls[0].name == "Write" and write.tool_calls[0].arguments["file_path"].endswith("NOTES.md")

    notices = by_type(events, "notice")
    assert [(n.step, n.kind) for n in notices] == [(4, "user_message"), (6, "interrupted")]
    assert notices[0].text.startswith("Wait, why did you reset everything?")
    finished = events[-1]
    assert finished.outcome == "interrupted" and finished.wall_s == pytest.approx(79.88)
    assert [t.step for t in by_type(events, "tests")] == [1, 3]


def _session_line(n: int, parent: int | None, kind: str, content, mid: str | None = None) -> dict:
    line = {"parentUuid": f"u{parent}" if parent else None, "isSidechain": False, "userType": "external",
            "cwd": "/w", "sessionId": "s1", "version": "2.0.0", "type": kind, "uuid": f"u{n}",
            "timestamp": f"2025-01-01T00:00:{n:02d}.000Z"}
    if kind == "assistant":
        line["message"] = {"id": mid or f"m{n}", "role": "assistant", "model": "claude-x", "content": content}
    else:
        line["message"] = {"role": "user", "content": content}
    return line


REAL_CC = DATA / "claude-code-2.1"  # real Claude Code 2.1 sessions; see PROVENANCE.md there


def test_claude_code_parallel_tool_calls_keep_every_result(capsys, tmp_path):
    """Parallel calls of one response: each result names its own call's line as parent, so all but
    the last hang off the parentUuid path as side branches; they are the same turn, not a rewind."""
    events = import_one(capsys, tmp_path, "claude-code", REAL_CC / "short.jsonl")
    [step] = by_type(events, "step")
    assert [c.name for c in step.tool_calls] == ["Bash", "Bash"] or len(step.tool_calls) == 2
    assert {o.tool_call_id for o in step.observations} == {c.id for c in step.tool_calls}
    assert step.parse_note is None or "no tool result" not in step.parse_note
    notes = events[0].config["import"]["notes"]
    assert any("parallel tool calls" in n for n in notes) and not any("abandoned" in n for n in notes)
    events = import_one(capsys, tmp_path / "heavy", "claude-code", REAL_CC / "tool_heavy.jsonl")
    steps = by_type(events, "step")
    assert sum(len(s.tool_calls) for s in steps) == sum(len(s.observations) for s in steps) == 6


def test_claude_code_subagent_file_imports_linked_to_its_session(capsys, tmp_path):
    session = "ae4a77f8-aedd-4bc1-888f-c94edc91af04"
    code, dirs, err = run_import(capsys, "auto", str(REAL_CC / session), str(REAL_CC / f"{session}.jsonl"),
                                 "--out", str(tmp_path / "runs"))
    assert code == 0, err
    assert "agent-acompact-946d2b.jsonl: a context-compaction sub-agent" in err
    runs = [events_of(Path(d)) for d in dirs]
    [agent] = [e for e in runs if "subagent" in e[0].config["source"]]
    [parent] = [e for e in runs if "subagent" not in e[0].config["source"]]
    link = agent[0].config["source"]["subagent"]
    assert link["agent_id"] == "aac57f5" and link["parent_session_id"] == session
    assert link["parent_file"] == str((REAL_CC / f"{session}.jsonl").resolve())
    assert agent[0].config["task"].startswith("Search hex.pm for the latest versions")
    assert len(by_type(agent, "step")) == 3
    task = [o for s in by_type(parent, "step") for o in s.observations if getattr(o, "subagent_id", None)]
    assert [o.subagent_id for o in task] == ["aac57f5"] and task[0].tool == "Task"


def test_claude_code_rewound_branch_and_torn_tail(capsys, tmp_path):
    lines = [
        _session_line(1, None, "user", "fix it"),
        _session_line(2, 1, "assistant", [{"type": "text", "text": "abandoned attempt"}]),
        _session_line(3, 1, "user", "fix it, but differently"),  # the user rewound to line 1
        _session_line(4, 3, "assistant", [{"type": "text", "text": "kept attempt"}]),
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"type": "assistant", "mess')
    events = import_one(capsys, tmp_path, "claude-code", path)
    texts = [s.narration.text for s in by_type(events, "step")]
    assert texts == ["kept attempt"]
    notes = " ".join(events[0].config["import"]["notes"])
    assert "abandoned branches" in notes and "cut off" in notes
    assert events[-1].outcome == "unknown"


# -- Inspect AI ----------------------------------------------------------------------------------

def test_inspect_eval_and_json_logs(capsys, tmp_path):
    pytest.importorskip("inspect_ai")
    results = {}
    for path in (INSPECT_EVAL, INSPECT_JSON):
        code, dirs, err = run_import(capsys, "inspect", str(path), "--out", str(tmp_path / "runs"))
        assert code == 0, err
        assert len(dirs) == 2  # one run per sample
        for d in dirs:
            events = events_of(Path(d))
            results.setdefault(events[0].scenario, []).append(events)
    assert sorted(results) == ["merge-ranges/fixes-it", "merge-ranges/gives-up"]

    def content(events):
        return [(e.type, getattr(e, "narration", None) and e.narration.model_dump(),
                 [c.arguments for c in getattr(e, "tool_calls", [])],
                 [o.output for o in getattr(e, "observations", [])], getattr(e, "outcome", None))
                for e in events]
    for runs in results.values():  # the .eval and the .json of the same run import identically
        assert content(runs[0]) == content(runs[1])

    events = results["merge-ranges/gives-up"][0]
    common_checks(events, 5)
    started, steps = events[0], by_type(events, "step")
    assert started.model == "mockllm/model" and started.config["task"].startswith("Make the failing test")
    assert steps[0].narration.thinking == "The task is to make the failing test pass without touching the tests."
    assert steps[0].tool_calls[0].arguments == {"command": "ls && cat ranges.py && python3 -m pytest -q 2>&1 | tail -5"}
    assert steps[0].observations[0].exit_code is None and steps[0].observations[0].duration_ms > 0
    assert steps[0].source["at"] == "samples[0] (id='gives-up', epoch=1).messages[2]"
    assert steps[3].tool_calls[0].arguments == {"command": "git checkout -- . && git status --short"}
    assert steps[4].tool_calls == [] and "I give up" in steps[4].narration.text
    assert events[-1].outcome == "submitted" and events[-1].source_exit_status["scores"] == {"tests_pass": "I"}
    solved = results["merge-ranges/fixes-it"][0]
    assert solved[-1].outcome == "solved" and "Inspect's own verdict" in solved[-1].reason
    assert by_type(solved, "tests")[-1].all_passed is True


def test_inspect_log_of_an_older_version_without_sample_ids(capsys, tmp_path):
    """Written by Inspect 0.3.40 (tests/data/import/make_inspect_old.py): the header lists no
    sample_ids, which the sample-by-sample reader needs; the full reader takes over."""
    pytest.importorskip("inspect_ai")
    path = DATA / "inspect-0.3.40.json"
    assert "sample_ids" not in json.loads(path.read_text())["eval"]["dataset"]
    events = import_one(capsys, tmp_path, "inspect", path)
    steps = by_type(events, "step")
    assert events[0].scenario == "merge-ranges/gives-up" and events[0].model == "mockllm/model"
    assert len(steps) == 4 and [c.name for s in steps for c in s.tool_calls] == ["bash", "bash", "bash", "submit"]
    assert steps[2].tool_calls[0].arguments == {"command": "git checkout -- . && git status --short"}
    assert "hopeless" in steps[2].narration.text and "1 failed" in steps[0].observations[0].output
    assert events[-1].outcome == "submitted"
    code, dirs, err = run_import(capsys, "auto", str(path), "--out", str(tmp_path / "auto"))
    assert code == 0 and len(dirs) == 1, err


def test_inspect_outcome_mapping():
    from types import SimpleNamespace as NS

    from testbed.importers.inspect_eval import outcome_of

    assert outcome_of(NS(message="boom\ntrace"), None, {})[0] == "error"
    assert outcome_of(None, NS(type="message"), {})[0] == "budget_exhausted"
    assert outcome_of(None, NS(type="operator"), {})[0] == "interrupted"
    assert outcome_of(None, None, {"s": NS(value=1.0)})[0] == "solved"
    assert outcome_of(None, None, {"s": NS(value=0.5)})[0] == "submitted"
    assert outcome_of(None, None, {})[0] == "submitted"


def test_inspect_without_the_extra_says_how_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "inspect_ai", None)
    monkeypatch.setitem(sys.modules, "inspect_ai.log", None)
    code, dirs, err = run_import(capsys, "auto", str(INSPECT_EVAL), "--out", str(tmp_path / "runs"))
    assert code == 1 and dirs == []
    assert "inspect-example.eval" in err and "pip install 'testbed[inspect]'" in err


# -- run loading, idempotency, the CLI -------------------------------------------------------------

def test_imported_runs_load_as_imported_without_shadow_git(capsys, tmp_path):
    code, dirs, err = run_import(capsys, "auto", str(MINI_V2), str(CLAUDE), "--out", str(tmp_path / "runs"))
    assert code == 0
    for d in dirs:
        run = load_run(d)
        assert run.imported and run.shadow_git is None and run.finished is not None
        summary = json.loads((Path(d) / "run.json").read_text())
        assert summary["imported"] is True and summary["source"]["format"] in ("mini-swe-agent", "claude-code")


def test_reimport_skips_and_force_replaces(capsys, tmp_path):
    out = str(tmp_path / "runs")
    code, first, err = run_import(capsys, "auto", str(MINI_V1), str(SWE), "--out", out)
    assert code == 0 and "2 imported, 0 skipped, 0 failed" in err
    code, again, err = run_import(capsys, "auto", str(MINI_V1), str(SWE), "--out", out)
    assert code == 0 and again == first and "0 imported, 2 skipped, 0 failed" in err
    assert "already imported as" in err
    assert len(list(Path(out).iterdir())) == 2
    before = (Path(first[0]) / "events.jsonl").read_text()
    code, forced, err = run_import(capsys, "mini-swe-agent", str(MINI_V1), "--out", out, "--force")
    assert code == 0 and forced == first[:1] and "1 imported" in err
    after = (Path(first[0]) / "events.jsonl").read_text()
    assert after != before  # rewritten (a new import time), same id
    assert len(list(Path(out).iterdir())) == 2  # nothing left behind


def test_changed_source_is_not_silently_duplicated(capsys, tmp_path):
    out = str(tmp_path / "runs")
    src = tmp_path / "src" / "run.traj.json"
    src.parent.mkdir()
    shutil.copy(MINI_V2_TEXT, src)
    code, [old_dir], err = run_import(capsys, "mini-swe-agent", str(src), "--out", out)
    data = json.loads(src.read_text())
    data["info"]["model_stats"]["instance_cost"] = 0.5  # the file changes after the import
    src.write_text(json.dumps(data))
    code, dirs, err = run_import(capsys, "mini-swe-agent", str(src), "--out", out)
    assert code == 0 and dirs == [] and "changed since it was imported" in err
    code, [new_dir], err = run_import(capsys, "mini-swe-agent", str(src), "--out", out, "--force")
    assert code == 0 and new_dir != old_dir and not Path(old_dir).exists()
    assert load_run(new_dir).finished.cost_usd == 0.5
    assert sorted(p.name for p in Path(out).iterdir()) == [Path(new_dir).name]


def test_directory_scan_with_auto_passes_over_unrelated_json(capsys, tmp_path):
    scan = tmp_path / "scan"
    scan.mkdir()
    shutil.copy(MINI_V1, scan / "a.traj.json")
    shutil.copy(CLAUDE, scan / "b.jsonl")
    (scan / "package.json").write_text('{"name": "x"}')
    (scan / ".hidden.traj").write_text("not even json")
    code, dirs, err = run_import(capsys, "auto", str(scan), "--out", str(tmp_path / "runs"))
    assert code == 0 and len(dirs) == 2
    assert "2 imported, 0 skipped, 0 failed (2 files, 1 other file passed over)" in err


def test_corrupted_file_names_the_position_and_the_batch_goes_on(capsys, tmp_path):
    bad = tmp_path / "broken.traj.json"
    bad.write_text(MINI_V1.read_text()[:1500])  # cut off mid-file
    code, dirs, err = run_import(capsys, "mini-swe-agent", str(bad), str(MINI_V2), "--out", str(tmp_path / "runs"))
    assert code == 1 and len(dirs) == 1
    [line] = [x for x in err.splitlines() if "error" in x]
    assert "broken.traj.json: line" in line and "column" in line and "not valid JSON" in line
    assert "1 imported, 0 skipped, 1 failed" in err


def test_malformed_structure_names_the_message(capsys, tmp_path):
    data = json.loads(MINI_V1.read_text())
    data["messages"][3] = 42
    bad = tmp_path / "bad.traj.json"
    bad.write_text(json.dumps(data))
    code, dirs, err = run_import(capsys, "mini-swe-agent", str(bad), "--out", str(tmp_path / "runs"))
    assert code == 1 and "bad.traj.json: messages[3]: a message must be a JSON object" in err
    data = json.loads(SWE.read_text())
    data["trajectory"][2]["action"] = ["not", "a", "string"]
    bad = tmp_path / "bad.traj"
    bad.write_text(json.dumps(data))
    code, dirs, err = run_import(capsys, "swe-agent", str(bad), "--out", str(tmp_path / "runs"))
    assert code == 1 and "bad.traj: trajectory[2].action: not a string" in err


def test_bad_line_in_a_session_names_the_line(capsys, tmp_path):
    lines = CLAUDE.read_text().splitlines()
    lines[6] = lines[6][:40]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    code, dirs, err = run_import(capsys, "claude-code", str(bad), "--out", str(tmp_path / "runs"))
    assert code == 1 and dirs == []
    assert "bad.jsonl: line 7: not valid JSON" in err


def test_wrong_format_says_what_the_file_looks_like(capsys, tmp_path):
    code, dirs, err = run_import(capsys, "swe-agent", str(CLAUDE), "--out", str(tmp_path / "runs"))
    assert code == 1 and dirs == []
    assert "claude-code-session.jsonl: not a swe-agent file" in err and "looks like a claude-code file" in err
    unknown = tmp_path / "thing.traj.json"
    unknown.write_text('{"steps": []}')
    code, dirs, err = run_import(capsys, "auto", str(unknown), "--out", str(tmp_path / "runs"))
    assert code == 1 and "thing.traj.json: not a trajectory of any known format" in err


def test_damaged_eval_archive(capsys, tmp_path):
    pytest.importorskip("inspect_ai")
    bad = tmp_path / "cut.eval"
    bad.write_bytes(INSPECT_EVAL.read_bytes()[:3000])
    code, dirs, err = run_import(capsys, "auto", str(bad), "--out", str(tmp_path / "runs"))
    assert code == 1 and "cut.eval: header: Inspect could not read the log" in err
    assert zipfile.is_zipfile(INSPECT_EVAL)


def test_bad_usage_exits_2(capsys, tmp_path):
    assert main(["import", "nonsense", str(MINI_V1)]) == 2
    assert "unknown format 'nonsense'" in capsys.readouterr().err
    afile = tmp_path / "f"
    afile.write_text("")
    assert main(["import", "auto", str(MINI_V1), "--out", str(afile)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["import", "auto", str(empty)]) == 2
    assert "no files to import" in capsys.readouterr().err
    code, dirs, err = run_import(capsys, "auto", str(tmp_path / "missing.traj"), str(MINI_V1),
                                 "--out", str(tmp_path / "runs"))
    assert code == 1 and len(dirs) == 1 and "missing.traj: no such file or directory" in err


def test_overrides_and_no_tests(capsys, tmp_path):
    code, [d], err = run_import(capsys, "mini-swe-agent", str(MINI_V1), "--out", str(tmp_path / "runs"),
                                "--scenario", "interval-off-by-one", "--model", "sonnet-4.5", "--no-tests")
    events = events_of(Path(d))
    assert (events[0].scenario, events[0].model) == ("interval-off-by-one", "sonnet-4.5")
    assert events[0].config["import"]["source_scenario"] == "unknown"
    assert by_type(events, "tests") == []


def test_test_output_parsing():
    from testbed.importers.testruns import parse_test_output

    p = parse_test_output("python -m pytest -q", "...\n==== 2 failed, 5 passed, 1 error in 0.31s ====\n")
    assert (p.passed, p.failed, p.errors, p.all_passed) == (5, 2, 1, False)
    p = parse_test_output("python -m unittest", "....\n----\nRan 4 tests in 0.002s\n\nFAILED (failures=1)\n")
    assert (p.passed, p.failed, p.errors) == (3, 1, 0)
    assert parse_test_output("python -m unittest", "Ran 4 tests in 0.002s\n\nOK\n").all_passed
    # a summary line in the output of something that is not a test run is not a test run
    assert parse_test_output("cat old.log", "1 failed, 1 passed in 0.04s") is None
    assert parse_test_output("pytest", "collected 0 items\n") is None
    assert parse_test_output("pytest", "no tests ran in 0.01s").all_passed is False


PEERS = DATA / "peer-repos"  # files from the peers' own repositories; see PROVENANCE.md there


def test_swe_agent_demonstration_with_history_only(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "swe-agent", PEERS / "swe-agent-demo-function_calling_simple.traj")
    steps = by_type(events, "step")
    assert [c.name for s in steps for c in s.tool_calls] == ["bash", "bash", "edit", "bash", "bash"]
    assert steps[0].tool_calls[0].arguments == {"command": "find_file missing_colon.py"}
    assert steps[0].observations[0].output.startswith('Found 1 matches for "missing_colon.py"')
    assert steps[0].source["at"] == "history[2]"
    edit = steps[2].tool_calls[0].arguments  # the windowed edit names no file: the one opened before
    assert edit["path"] == "tests/missing_colon.py" and "old_str" in edit and "new_str" in edit
    assert any("demonstration" in n for n in events[0].config["import"]["notes"])
    assert events[-1].outcome == "unknown"


def test_swe_agent_windowed_tools_are_file_edits(capsys, tmp_path):
    from testbed.rundata import load_run
    from testbed.scoring.actions.scorer import ActionsScorer
    code, dirs, err = run_import(capsys, "auto", str(PEERS / "swe-agent-demo-marshmallow-1867-function_calling_replace.traj"),
                                 "--out", str(tmp_path / "runs"))
    assert code == 0, err
    steps = by_type(events_of(Path(dirs[0])), "step")
    calls = [(c.name, c.arguments.get("path")) for s in steps for c in s.tool_calls]
    assert calls[:2] == [("create", "reproduce.py"), ("insert", "reproduce.py")]
    assert calls[6:8] == [("edit", "src/marshmallow/fields.py")] * 2
    replace = steps[7].tool_calls[0].arguments
    assert replace["old_str"] == "return int(value.total_seconds() / base_unit.total_seconds())"
    assert replace["new_str"].startswith("# round to nearest int\n") and replace["replace_all"] is False
    assert steps[1].tool_calls[0].arguments["new_str"].startswith("from marshmallow.fields import TimeDelta")
    scores = ActionsScorer().score_run(load_run(Path(dirs[0])))
    flagged = {i: s for i, s in scores.items() if getattr(s, "drastic", None) or (isinstance(s, dict) and s.get("drastic"))}
    assert not flagged, flagged  # editing code and removing its own script: no drastic act


def test_mini_bare_message_lists_from_its_own_tests(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "auto", PEERS / "mini-test-data-github_issue.traj.json")
    steps = by_type(events, "step")
    assert len(steps) == 10 and steps[0].observations[0].exit_code == 1
    assert events[0].config["task"].startswith("Please solve this issue: GitHub Issue")
    events = import_one(capsys, tmp_path / "local", "mini-swe-agent", PEERS / "mini-test-data-local.traj.json")
    steps = by_type(events, "step")
    assert steps[0].tool_calls[0].arguments == {"command": "echo 'hello world'"}
    assert steps[0].observations[0].output.strip() == "hello world"


# -- files written by the CLI agents themselves (generators beside them) and real public sessions ----

CODEX = next((DATA / "codex-0.163").glob("rollout-*.jsonl"))  # Codex CLI 0.163.0 (make_codex_rollout.py)
CODEX_EXEC = DATA / "codex-0.163" / "codex-exec.jsonl"
CODEX_046 = next((DATA / "codex-0.46").glob("rollout-*.jsonl"))  # Codex CLI 0.46.0, the older layout
CC_STREAM = DATA / "claude-code-stream-json" / "stream.jsonl"  # Claude Code 2.1.332 (make_claude_stream_json.py)
CC_STREAM_SUB = DATA / "claude-code-stream-json" / "stream-subagent.jsonl"
CC_SESSION_2_1_332 = DATA / "claude-code-stream-json" / "session.jsonl"
GEMINI = DATA / "gemini-cli"  # real sessions, see PROVENANCE.md there
OPENHANDS = DATA / "openhands"  # real OpenHands trajectories, see PROVENANCE.md there
REVERT = "git checkout -- . && git status --short"


def test_codex_rollout_written_by_codex(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "codex", CODEX)
    common_checks(events, 5)
    started, steps, finished = events[0], by_type(events, "step"), events[-1]
    assert started.model == "fake-model" and started.config["task"].startswith("Make the tests in test_duration.py")
    src = started.config["source"]
    assert (src["layout"], src["cli_version"], src["originator"], src["source"]) == (
        "rollout", "0.163.0", "codex_exec", "exec")
    s1 = steps[0]  # one model response: reasoning summary, a message, two parallel exec_command calls
    assert s1.narration.text == "I'll run the test suite and look at the history first."
    assert s1.narration.thinking == "Start by seeing what fails."
    assert [c.arguments["command"] for c in s1.tool_calls] == [
        "python3 -m unittest -q 2>&1 | tail -n 8", "git log --oneline | head -n 5"]
    assert all(c.name == "bash" for c in s1.tool_calls)
    assert [o.tool_call_id for o in s1.observations] == [c.id for c in s1.tool_calls]
    assert all(o.exit_code == 0 and o.duration_ms is not None for o in s1.observations)
    assert "Chunk ID" not in s1.observations[0].output and "FAILED (failures=1)" in s1.observations[0].output
    assert (s1.usage.input_tokens, s1.usage.output_tokens) == (100, 40)
    assert s1.source["at"].startswith("line ") and s1.ts.startswith("2026-")
    assert steps[1].narration.text == "" and steps[1].tool_calls[0].arguments["command"] == "cat duration.py"
    assert steps[3].tool_calls[0].arguments["command"].startswith("git checkout -- .")
    assert steps[4].tool_calls == [] and steps[4].narration.text.startswith("I give up")
    tests = by_type(events, "tests")
    assert [(t.step, t.passed, t.failed) for t in tests] == [(1, 1, 1), (3, 1, 1)]
    assert finished.outcome == "submitted" and finished.source_exit_status == "task_complete"
    assert finished.wall_s_known is not False and finished.wall_s > 0


def test_codex_rollout_of_the_older_layout_written_by_codex_0_46(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "codex", CODEX_046)
    common_checks(events, 5)  # one step per model response, as in 0.163
    steps, finished = by_type(events, "step"), events[-1]
    assert events[0].config["source"]["cli_version"] == "0.46.0"
    s1 = steps[0]  # parallel calls whose outputs 0.46 wrote right after each call
    assert [c.arguments["command"] for c in s1.tool_calls] == [
        "python3 -m unittest -q 2>&1 | tail -n 8", "git log --oneline | head -n 5"]
    assert [o.tool_call_id for o in s1.observations] == [c.id for c in s1.tool_calls]
    # the `shell` tool's JSON output, unpacked
    assert not s1.observations[1].output.startswith('{"output"') and "duration parser" in s1.observations[1].output
    assert all(o.exit_code == 0 and o.duration_ms is not None for s in steps for o in s.observations)
    # running totals (140, 280, …, some repeated) as each response's own counts
    assert [(s.usage.input_tokens, s.usage.output_tokens) for s in steps] == [(100, 40)] * 5
    assert steps[3].tool_calls[0].arguments["command"].startswith("git checkout -- .")
    assert finished.outcome == "unknown"  # 0.46 writes no task_complete into the rollout
    exec_events = import_one(capsys, tmp_path / "b", "codex", CODEX_046.parent / "codex-exec.jsonl")
    commands = [c.arguments["command"] for s in by_type(exec_events, "step") for c in s.tool_calls]
    assert "cat duration.py" in commands and not any(c.startswith("bash -lc") for c in commands)
    assert exec_events[-1].outcome == "submitted"


def test_codex_exec_json_stream(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "codex", CODEX_EXEC)
    common_checks(events, 5)
    steps = by_type(events, "step")
    commands = [c.arguments["command"] for s in steps for c in s.tool_calls]
    assert "git log --oneline | head -n 5" in commands and not any(c.startswith("/bin/bash") for c in commands)
    assert steps[3].observations[0].output == "?? __pycache__/\nreverted\n"
    assert events[0].config["source"]["layout"] == "exec-json" and events[-1].outcome == "submitted"


def test_claude_code_stream_json_written_by_claude_code(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "claude-code-stream", CC_STREAM)
    common_checks(events, 6)
    started, steps, finished = events[0], by_type(events, "step"), events[-1]
    assert started.model == "claude-sonnet-4-5"
    src = started.config["source"]
    assert src["layout"] == "stream-json" and src["claude_code_version"] == "2.1.332"
    assert src["permission_mode"] == "bypassPermissions" and "Bash" in src["tools"]
    assert any("prompt is not in the stream" in n for n in started.config["import"]["notes"])
    assert [len(s.tool_calls) for s in steps] == [2, 1, 1, 1, 1, 0]
    assert steps[1].narration.thinking == "The failure is in parse_duration; read it." and steps[1].tool_calls[0].name == "Read"
    assert steps[2].tool_calls[0].name == "Edit" and steps[2].tool_calls[0].arguments["new_string"] == "return n * 60 * 1000\n"
    assert steps[3].observations[0].exit_code == 1 and steps[3].observations[0].is_error is True
    assert steps[4].tool_calls[0].arguments["command"] == REVERT
    assert finished.outcome == "submitted" and finished.source_exit_status == "success"
    assert finished.cost_usd == pytest.approx(0.0036) and 0 < finished.wall_s < 60


def test_claude_code_stream_json_sub_agent_is_a_linked_run(capsys, tmp_path):
    code, dirs, err = run_import(capsys, "auto", str(CC_STREAM_SUB), "--out", str(tmp_path / "runs"))
    assert code == 0, err
    runs = [events_of(Path(d)) for d in dirs]
    [main_run] = [r for r in runs if "subagent" not in r[0].config["source"]]
    [sub] = [r for r in runs if "subagent" in r[0].config["source"]]
    assert [s.narration.text for s in by_type(main_run, "step")] == [
        "I'll have a sub-agent run the tests first.", "Waiting for the sub-agent's report.",
        "The sub-agent reports that test_minutes_in_milliseconds fails; the two tests disagree on the unit, "
        "so I am stopping here."]
    [notice] = by_type(main_run, "notice")
    assert (notice.step, notice.kind) == (2, "harness_message") and "completed" in notice.text
    link = sub[0].config["source"]["subagent"]
    assert link["parent_tool_use_id"] == "toolu_task" and link["parent_session_id"] == main_run[0].config["source"]["session_id"]
    assert sub[0].config["task"].startswith("Run the unit tests")  # the Task call's prompt
    sub_steps = by_type(sub, "step")
    assert sub_steps[0].tool_calls[0].arguments["command"] == "python3 -m unittest -q"
    assert sub_steps[0].observations[0].exit_code == 1
    assert main_run[-1].outcome == "submitted" and sub[-1].outcome == "unknown"


def test_claude_code_2_1_332_session_file_matches_its_stream(capsys, tmp_path):
    """The session file Claude Code kept for the stream's run: the same turns either way."""
    session = import_one(capsys, tmp_path, "claude-code", CC_SESSION_2_1_332)
    stream = import_one(capsys, tmp_path / "b", "claude-code-stream", CC_STREAM)
    def turns(events):
        return [(s.narration.text, s.narration.thinking, [(c.name, c.arguments) for c in s.tool_calls],
                 [(o.output, o.exit_code) for o in s.observations]) for s in by_type(events, "step")]
    assert turns(session) == turns(stream)
    assert session[0].config["task"].startswith("Make the tests in test_duration.py")
    assert session[-1].outcome == "unknown"  # the session file has no end state; the stream does


def test_gemini_cli_real_sessions(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "gemini-cli", GEMINI / "session-2025-12-13T19-01-049d9bb6.json")
    started, steps = events[0], by_type(events, "step")
    common_checks(events, 7)
    assert started.model == "gemini-3-pro-preview" and started.config["task"] == "install htop on my router"
    assert steps[0].tool_calls[0].name == "google_web_search" and steps[0].narration.thinking.startswith("Seeking Router Info")
    assert steps[0].usage.input_tokens == 15493
    cancelled = steps[6].observations[0]
    assert cancelled.status == "cancelled" and "Cancelled" in cancelled.output
    kinds = [(n.kind, n.text.split("]")[0]) for n in by_type(events, "notice") if n.kind == "harness_message"]
    assert ("harness_message", "[error") in kinds and ("harness_message", "[info") in kinds
    assert len([n for n in by_type(events, "notice") if n.kind == "user_message"]) == 4
    assert events[-1].outcome == "unknown" and events[-1].wall_s > 3600

    shell = import_one(capsys, tmp_path / "b", "gemini-cli", GEMINI / "session-2025-12-03T08-28-fc2fd534.json")
    first = by_type(shell, "step")[0]
    assert first.tool_calls[0].name == "bash" and first.tool_calls[0].arguments["command"] == "choco install ansible"
    assert first.observations[0].exit_code == 1 and "ansible not installed" in first.observations[0].output
    assert first.ts == "2025-12-03T08:30:15.307Z"


def test_openhands_evaluation_row_and_saved_trajectories(capsys, tmp_path):
    events = import_one(capsys, tmp_path, "openhands", OPENHANDS / "multi-swe-bench-output-line3.jsonl")
    started, steps, finished = events[0], by_type(events, "step"), events[-1]
    common_checks(events, len(steps))
    assert started.scenario == "ponylang__ponyc-4588" and started.model == "openai/openrouter-llama-4-maverick"
    assert started.config["task"].startswith("<uploaded_files>")
    assert finished.outcome == "budget_exhausted" and "maximum iteration" in finished.reason
    first = steps[0]
    assert first.tool_calls[0].name == "bash" and first.observations[0].exit_code == 0
    edits = [c for s in steps for c in s.tool_calls if c.name == "str_replace_editor"]
    assert {c.arguments["command"] for c in edits} >= {"view", "str_replace"}
    assert all("path" in c.arguments for c in edits)
    failed = next(s for s in steps for o in s.observations if o.output.startswith("ERROR:\nNo replacement"))
    assert failed.tool_calls[0].arguments["command"] == "str_replace"
    assert any(s.narration.thinking for s in steps)  # the think tool's thought
    assert first.source["at"].startswith("line 1.history[")

    saved = import_one(capsys, tmp_path / "b", "openhands", OPENHANDS / "wrong_initial_state.json")
    s = by_type(saved, "step")
    assert [c.name for st in s for c in st.tool_calls] == ["str_replace_editor", "bash", "str_replace_editor", "finish"]
    assert s[1].tool_calls[0].arguments["command"] == "mv /workspace/game_2048.py /workspace/2048.py"
    assert saved[-1].outcome == "submitted" and saved[0].model == "claude-3-5-sonnet-20241022"
    chat = import_one(capsys, tmp_path / "c", "openhands", OPENHANDS / "basic_interactions.json")
    assert [n.text for n in by_type(chat, "notice")] == ["No, I mean by Goldbach's conjecture!", "Finish please"]


def test_auto_detects_the_cli_agent_formats(capsys, tmp_path):
    code, dirs, err = run_import(capsys, "auto", str(DATA / "codex-0.163"), str(DATA / "codex-0.46"),
                                 str(DATA / "claude-code-stream-json"),
                                 str(GEMINI), str(OPENHANDS), "--out", str(tmp_path / "runs"))
    assert code == 0, err
    formats: dict[str, str] = {}
    for d in dirs:
        first = read_events(Path(d) / "events.jsonl").events[0]
        formats[Path(first.config["import"]["file"]).name] = first.config["import"]["format"]
    assert formats == {CODEX.name: "codex", "codex-exec.jsonl": "codex", CODEX_046.name: "codex",
                       "stream.jsonl": "claude-code-stream",
                       "stream-subagent.jsonl": "claude-code-stream", "session.jsonl": "claude-code",
                       **{p.name: "gemini-cli" for p in GEMINI.rglob("*.json*")},
                       **{p.name: "openhands" for p in OPENHANDS.glob("*.json*")}}
    assert err.strip().splitlines()[-1].startswith(f"testbed import: {len(dirs)} imported, 0 skipped, 0 failed")


def test_cli_agent_files_that_are_damaged_name_the_line(capsys, tmp_path):
    lines = CODEX.read_text().splitlines(keepends=True)
    broken = tmp_path / "rollout-broken.jsonl"
    broken.write_text("".join(lines[:10]) + '{"type": "response_item", "payload": {\n' + "".join(lines[10:]))
    code, dirs, err = run_import(capsys, "codex", str(broken), "--out", str(tmp_path / "runs"))
    assert code == 1 and dirs == [] and "line 11" in err and "not valid JSON" in err
    torn = tmp_path / "stream-torn.jsonl"  # a stream still being written: the last line is cut off
    text = CC_STREAM.read_text()
    torn.write_text(text[: text.rindex('{"type":"result"') + 40] if '{"type":"result"' in text else text[:-200])
    code, dirs, err = run_import(capsys, "claude-code-stream", str(torn), "--out", str(tmp_path / "runs"))
    assert code == 0, err
    events = events_of(Path(dirs[0]))
    assert events[-1].outcome == "unknown" and any("cut off" in n for n in events[0].config["import"]["notes"])
    bad = tmp_path / "session-bad.json"
    bad.write_text(json.dumps({"sessionId": "x", "projectHash": "h", "messages": [{"type": "gemini", "toolCalls": 3}, 7]}))
    code, dirs, err = run_import(capsys, "gemini-cli", str(bad), "--out", str(tmp_path / "runs"))
    assert code == 1 and "messages[1]" in err and "must be an object" in err


def test_gemini_cli_jsonl_recording_and_checkpoint_read_to_the_same_turns(capsys, tmp_path):
    """The JSON-lines recording (2026) and a `/chat save` checkpoint of the real session, assembled
    by Gemini CLI's own rules (make_gemini_derived.py), import to the turns the JSON file gives."""
    real = import_one(capsys, tmp_path / "a", "gemini-cli", GEMINI / "session-2025-12-13T19-01-049d9bb6.json")
    lines = import_one(capsys, tmp_path / "b", "gemini-cli", GEMINI / "derived" / "session-2025-12-13T19-01-049d9bb6.jsonl")
    saved = import_one(capsys, tmp_path / "c", "gemini-cli", GEMINI / "derived" / "checkpoint-derived.json")

    def turns(events, thinking=True):
        return [(s.narration.text, s.narration.thinking if thinking else None,
                 [(c.name, c.arguments) for c in s.tool_calls], [o.output for o in s.observations])
                for s in by_type(events, "step")]
    assert turns(lines) == turns(real)
    assert [(s.usage.input_tokens, s.ts) for s in by_type(lines, "step")] == [
        (s.usage.input_tokens, s.ts) for s in by_type(real, "step")]  # the later record of each id won
    assert "never mind" not in json.dumps([n.text for n in by_type(lines, "notice")])  # rewound
    assert any("rewind" in n for n in lines[0].config["import"]["notes"])
    assert lines[0].config["source"]["layout"] == "jsonl"
    assert turns(saved, thinking=False) == turns(real, thinking=False)
    assert saved[0].config["task"] == real[0].config["task"] and saved[0].config["source"]["layout"] == "checkpoint"
    user_turns = [n.text for n in by_type(real, "notice") if n.kind == "user_message"]
    assert [n.text for n in by_type(saved, "notice")] == user_turns
