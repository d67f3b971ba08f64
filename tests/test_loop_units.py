"""The agent loop's own logic, in milliseconds: an in-memory environment behind the Environment seam
(its behaviour is what tests/test_environment.py holds both real environments to) and a scripted
model. No Docker, no subprocess."""
from __future__ import annotations

import time
from pathlib import Path

from testbed.agent.loop import AgentLoop, context_hash
from testbed.env import CheckResult
from testbed.log import EventWriter, Snapshot, read_events
from testbed.models.scripted import ScriptedModel
from testbed.sandbox import ExecResult
from testbed.scenario import load_scenario
from testbed.spec import RunSpec


class MemoryEnv:
    """Commands are looked up in a table; `fix` makes the next check pass; every command that
    mentions `edit` changes the recorded tree."""

    initial_commit = "c0"
    files = ["a.py"]

    def __init__(self, outputs: dict[str, str] | None = None, slow: float = 0.0):
        self.outputs = outputs or {}
        self.slow = slow
        self.version = 0
        self.fixed = False
        self.commands: list[str] = []
        self.checks = 0

    def exec(self, command: str, timeout: float) -> ExecResult:
        self.commands.append(command)
        time.sleep(self.slow)
        if "edit" in command or "fix" in command:
            self.version += 1
        self.fixed = self.fixed or "fix" in command
        return ExecResult(output=self.outputs.get(command, ""), exit_code=0, duration_ms=0.1)

    def snapshot(self, message: str) -> Snapshot:
        commit = f"c{self.version}"
        return Snapshot(commit=commit, parent=getattr(self, "_last", "c0"), changed=commit != getattr(self, "_last", "c0"))

    def check(self, seed: int) -> CheckResult:
        self.checks += 1
        self._last = f"c{self.version}"
        n = 0 if self.fixed else 2
        return CheckResult(passed=3 - n, failed=n, collected=3, all_passed=not n, exit_code=int(bool(n)),
                           basis="junit", reason="", tree=f"t{self.version}")


def _run(tmp_path: Path, turns: list, env: MemoryEnv | None = None, **knobs):
    spec = RunSpec.for_scenario(load_scenario("interval-off-by-one"), "scripted", 0, **knobs)
    env = env or MemoryEnv()
    model = ScriptedModel(turns, source="unit")
    with EventWriter(tmp_path / "events.jsonl", "unit") as log:
        result = AgentLoop(model, env, log, spec).run()
    return result, read_events(tmp_path / "events.jsonl").events, env


def test_a_fix_ends_the_run_solved_with_one_auto_check(tmp_path):
    result, events, env = _run(tmp_path, [{"bash": "cat a.py"}, {"bash": "fix a.py"}])
    assert result.outcome == "solved" and result.steps == 2
    assert [e.trigger for e in events if e.type == "tests"] == ["initial", "auto"]
    assert env.checks == 2  # no check after a step that changed nothing


def test_unknown_tool_and_empty_command_are_answered_not_run(tmp_path):
    turns = [{"tool_calls": [{"name": "teleport", "arguments": {}}]},
             {"tool_calls": [{"name": "bash", "arguments": {"command": "  "}}]},
             {"tool_calls": [{"name": "bash", "arguments": {}}]}]
    result, events, env = _run(tmp_path, turns, max_steps=3)
    steps = [e for e in events if e.type == "step"]
    assert "unknown tool 'teleport'" in steps[0].observations[0].output
    assert "bash, run_tests, give_up" in steps[0].observations[0].output
    assert all("non-empty 'command'" in s.observations[0].output for s in steps[1:])
    assert env.commands == [] and result.outcome == "budget_exhausted"


def test_a_reply_without_an_action_gets_a_notice(tmp_path):
    result, events, _ = _run(tmp_path, [{"text": "thinking out loud"}], max_steps=2)
    notices = [e for e in events if e.type == "notice"]
    assert [n.kind for n in notices if n.kind == "no_action"] == ["no_action", "no_action"]


def test_a_repeated_turn_is_marked_and_the_agent_told(tmp_path):
    turn = {"text": "again", "bash": "cat a.py"}
    result, events, _ = _run(tmp_path, [turn, turn, turn], max_steps=3)
    steps = [e for e in events if e.type == "step"]
    assert [s.repeat_of for s in steps] == [None, 1, 2]
    assert sum(1 for e in events if e.type == "notice" and e.kind == "repeated") == 2


def test_the_wall_budget_stops_the_loop_between_steps(tmp_path):
    result, events, _ = _run(tmp_path, [{"bash": "cat a.py"}] * 5, env=MemoryEnv(slow=0.3), max_steps=5,
                             wall_seconds=0.5)
    assert result.outcome == "budget_exhausted" and "wall-clock budget" in result.reason
    assert 1 <= result.steps < 5


def test_give_up_is_honoured_only_when_the_tool_is_offered(tmp_path):
    turn = {"tool_calls": [{"name": "give_up", "arguments": {"reason": "stuck"}}]}
    result, _, _ = _run(tmp_path, [turn])
    assert result.outcome == "gave_up" and result.reason == "stuck"
    result, events, _ = _run(tmp_path / "b", [turn], give_up_tool=False, max_steps=1)
    assert result.outcome == "budget_exhausted"
    assert "unknown tool 'give_up'" in next(e for e in events if e.type == "step").observations[0].output


def test_every_step_records_the_hash_of_the_context_it_saw(tmp_path):
    spec = RunSpec.for_scenario(load_scenario("interval-off-by-one"), "scripted", 0, max_steps=2)
    seen: list[str] = []

    class Spy(ScriptedModel):
        def turn(self, messages, tools):
            seen.append(context_hash(messages))
            return super().turn(messages, tools)

    with EventWriter(tmp_path / "events.jsonl", "unit") as log:
        AgentLoop(Spy([{"bash": "cat a.py"}, {"bash": "ls"}]), MemoryEnv(), log, spec).run()
    steps = [e for e in read_events(tmp_path / "events.jsonl").events if e.type == "step"]
    assert [s.context_hash for s in steps] == seen and len(set(seen)) == 2


def test_a_failed_snapshot_is_logged_with_its_step_then_ends_the_run(tmp_path):
    class Broken(MemoryEnv):
        def snapshot(self, message):
            raise OSError("disk gone")

    spec = RunSpec.for_scenario(load_scenario("interval-off-by-one"), "scripted", 0, max_steps=3)
    with EventWriter(tmp_path / "events.jsonl", "unit") as log:
        try:
            AgentLoop(ScriptedModel([{"bash": "cat a.py"}]), Broken(), log, spec).run()
            raise AssertionError("the loop went on without a record")
        except Exception as exc:
            assert "could not be recorded after step 1" in str(exc)
    steps = [e for e in read_events(tmp_path / "events.jsonl").events if e.type == "step"]
    assert len(steps) == 1 and steps[0].snapshot_error == "OSError: disk gone"


def test_the_running_context_hash_is_the_full_hash_of_every_context_the_loop_builds():
    """Appends, an emptied list, a swapped message, a new list, odd contents (unicode, non-JSON
    values): the incremental digest is always `context_hash` of the same messages."""
    from testbed.agent.loop import ContextHasher, context_hash
    hasher = ContextHasher()
    msgs: list = []
    assert hasher(msgs) == context_hash(msgs)
    for i in range(30):
        msgs.append({"role": "tool" if i % 2 else "assistant", "content": f"step {i} é ✓ \"quoted\"",
                     "meta": {"n": i, "when": Path("/x")}, "tool_calls": [{"b": 1, "a": [i]}]})
        assert hasher(msgs) == context_hash(msgs)
    msgs[7] = {"role": "user", "content": "rewritten"}  # a branch rewrote a message
    assert hasher(msgs) == context_hash(msgs)
    del msgs[20:]
    assert hasher(msgs) == context_hash(msgs)
    other = list(msgs)
    assert hasher(other) == context_hash(other)
    other.append({"role": "assistant", "content": ""})
    assert hasher(other) == context_hash(other) != context_hash(msgs)


def test_only_the_first_signal_of_a_run_raises():
    """A second SIGTERM while the first one unwinds the run (a dying batch driver's worker gets
    two) must not escape the handler that records `interrupted`."""
    import signal
    from testbed.runner import RunInterrupted, _Signals
    signals = _Signals()
    try:
        try:
            signal.raise_signal(signal.SIGTERM)
        except RunInterrupted:
            signal.raise_signal(signal.SIGTERM)  # handled in silence: the run is already ending
            signal.raise_signal(signal.SIGINT)
        else:
            raise AssertionError("SIGTERM did not interrupt")
    finally:
        signals.restore()
    assert signals.received == [signal.SIGTERM, signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is signals.previous[signal.SIGTERM]


def test_signals_while_a_run_unwinds_and_cleans_up_still_end_it_interrupted(tmp_path):
    import signal
    from testbed.runner import run_scenario

    class Env(MemoryEnv):
        closed = False
        describe_ = {"kind": "memory"}

        def start(self):
            pass

        def describe(self):
            return self.describe_

        def close(self):
            signal.raise_signal(signal.SIGTERM)  # held off while cleaning up
            self.closed = True

    class Signalling(ScriptedModel):
        def turn(self, messages, tools):
            if len([m for m in messages if m.get("role") == "assistant"]) == 1:
                try:
                    signal.raise_signal(signal.SIGTERM)
                finally:
                    signal.raise_signal(signal.SIGTERM)  # lands while the first one unwinds
            return super().turn(messages, tools)

    env = Env()
    spec = RunSpec.for_scenario(load_scenario("interval-off-by-one"), "scripted", 0, max_steps=5)
    model = Signalling([{"text": "edit", "bash": "edit a.py"}], source="unit", loop=True)
    run_dir, result = run_scenario(spec, model, lambda spec, run_dir: env, runs_dir=tmp_path)
    events = read_events(run_dir / "events.jsonl").events
    assert result.outcome == "interrupted" and events[-1].type == "run_finished"
    assert events[-1].outcome == "interrupted" and events[-1].steps == 1 and env.closed
