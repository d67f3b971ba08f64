"""The agent loop: one model turn per step, its tool calls run in the environment, the workspace
recorded, the step logged, and the harness's verdict taken whenever the code changed.

It ends only when the harness's own test run passes (solved), the agent calls give_up (gave_up),
or a budget runs out (budget_exhausted: steps, wall seconds or cost). Each step is logged before
anything after it can fail; the step event carries a hash of the exact context the model saw, so
a run can be branched from any step and the rebuilt context checked against the record.
"""
from __future__ import annotations

import hashlib
import json
import operator
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from testbed.agent import prompts
from testbed.agent.tools import tool_specs
from testbed.log import (EventWriter, NoticeEvent, Observation, StepEvent, TestsEvent, ToolCall,
                         TruthEvent, Narration)
from testbed.models.base import Message, Model, Turn
from testbed.textsafe import clean


class HarnessError(Exception):
    """Something of the harness's failed after the step it concerns was logged."""


@dataclass
class LoopResult:
    outcome: str
    reason: str
    steps: int
    cost_usd: float | None
    last_tests: Any = None
    notes: list[str] = field(default_factory=list)


_DUMP = dict(sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)


def context_hash(messages: list[Message]) -> str:
    """sha256 of the context exactly as the loop built it (meta included: it is part of the
    record a rebuilt context must reproduce)."""
    return hashlib.sha256(json.dumps(messages, **_DUMP).encode()).hexdigest()


class ContextHasher:
    """`context_hash(messages)` for a context the loop only appends to, at the cost of the new
    messages: the JSON of a list is "[" + its items' JSON joined by "," + "]", so one running
    sha256 gives the same digest. Held references to the hashed messages tell a list that was
    replaced or had a message swapped (then it starts over); a message dict changed in place after
    it was hashed would not be seen, and the loop never does that."""

    def __init__(self) -> None:
        self._refs: list[Message] = []
        self._list: list[Message] | None = None
        self._h = hashlib.sha256(b"[")

    def __call__(self, messages: list[Message]) -> str:
        n = len(self._refs)
        if (messages is not self._list or len(messages) < n
                or not all(map(operator.is_, messages, self._refs))):
            self._refs, self._list, self._h, n = [], messages, hashlib.sha256(b"["), 0
        for m in messages[n:]:
            self._h.update((b"," if self._refs else b"") + json.dumps(m, **_DUMP).encode())
            self._refs.append(m)
        h = self._h.copy()
        h.update(b"]")
        return h.hexdigest()


def initial_messages(spec: Any, tests: Any) -> list[Message]:
    """The system prompt and the task message, as the first turn sees them."""
    give_up_line = prompts.GIVE_UP_TOOL if spec.pressure.give_up_tool else ""
    task = spec.task
    status = prompts.test_status(tests.passed, tests.failed, tests.errors, tests.all_passed,
                                 tests.verdict_basis, tests.reason or "")
    content = prompts.TASK.format(prompt=task.prompt.strip(), test_command=task.test_command, status=status)
    if spec.pressure.show_budget:
        content += "\n" + prompts.BUDGET_LINE.format(used=0, total=spec.budget.steps)
    return [
        {"role": "system", "content": prompts.SYSTEM.format(give_up=give_up_line,
                                                            protected=", ".join(task.protected))},
        {"role": "user", "meta": {"tests": {**tests_meta(tests), "initial": True}}, "content": content},
    ]


class AgentLoop:
    def __init__(self, model: Model, env: Any, log: EventWriter, spec: Any,
                 on_step: Callable[[StepEvent, TestsEvent | None], None] | None = None):
        self.model, self.env, self.log, self.spec = model, env, log, spec
        self.on_step = on_step or (lambda step, tests: None)
        self.tools = tool_specs(spec.pressure.give_up_tool)
        self.messages: list[Message] = []
        self.cost: float | None = 0.0
        self.checks = 0
        self.signatures: dict[str, int] = {}
        self.context_hash = ContextHasher()

    # -- the harness's test run ---------------------------------------------------------------
    def check(self, step: int, trigger: str) -> TestsEvent:
        self.checks += 1
        r = self.env.check(self.spec.seed * 1000 + self.checks)
        return self.log.write(tests_event(r, step, trigger))

    def notice(self, step: int, kind: str, text: str, meta: dict[str, Any] | None = None) -> None:
        self.log.write(NoticeEvent(run_id="", step=step, kind=kind, text=text))
        self.messages.append(notice_message(text, meta))

    def _feedback(self, t: TestsEvent) -> str:
        return prompts.feedback(self.spec.pressure.feedback, t.passed, t.failed, t.verdict_basis,
                                t.reason or "", self.spec.budget.test_timeout)

    # -- the loop -----------------------------------------------------------------------------
    def run(self, first_step: int = 1, messages: list[Message] | None = None,
            tests: TestsEvent | None = None, stop_after: int | None = None) -> LoopResult:
        """Run from `first_step`; a branch passes the rebuilt `messages` and the last verdict."""
        spec, budget = self.spec, self.spec.budget
        start = time.monotonic()
        if messages is None:
            tests = self.check(0, "initial")
            if tests.all_passed:
                return LoopResult("solved", "the tests already pass before any step", 0, 0.0, tests)
            self.messages = initial_messages(spec, tests)
        else:
            self.messages = messages
        last = budget.steps if stop_after is None else min(budget.steps, first_step + stop_after - 1)
        step = first_step - 1
        for step in range(first_step, last + 1):
            if time.monotonic() - start > budget.wall_seconds:
                return LoopResult("budget_exhausted", f"wall-clock budget of {budget.wall_seconds:g} s used",
                                  step - 1, self.cost, tests)
            if budget.cost_usd is not None and self.cost is not None and self.cost >= budget.cost_usd:
                return LoopResult("budget_exhausted", f"cost budget of ${budget.cost_usd:g} used",
                                  step - 1, self.cost, tests)
            seen = self.context_hash(self.messages)
            turn = _clean_turn(self.model.turn(self.messages, self.tools))
            if turn.usage.cost_usd is None:
                self.cost = None  # unknown from here on; never guessed
            elif self.cost is not None:
                self.cost += turn.usage.cost_usd
            gave_up, tests_now, observations = self._act(step, turn)
            snapshot, snap_error = None, None
            try:
                snapshot = self.env.snapshot(f"step {step}")
            except Exception as exc:  # logged with the step below, then the run ends
                snap_error = f"{type(exc).__name__}: {exc}"
            repeat_of = self._repeat(step, turn)
            event = self.log.write(StepEvent(
                run_id="", index=step, narration=Narration(text=turn.text, thinking=turn.thinking),
                tool_calls=turn.tool_calls, observations=observations, snapshot=snapshot,
                usage=turn.usage, repeat_of=repeat_of, parse_note=turn.parse_note, context_hash=seen,
                snapshot_error=snap_error, internal=turn.internal))
            if turn.truth is not None:
                self.log.write(TruthEvent(run_id="", step=step, **turn.truth))
            if snap_error is not None:
                raise HarnessError(f"the workspace could not be recorded after step {step}: {snap_error}")
            if tests_now is None and snapshot is not None and snapshot.changed:
                tests_now = self.check(step, "auto")
                if not tests_now.all_passed and not gave_up:
                    self.notice(step, "tests_failed", self._feedback(tests_now), {"tests": tests_meta(tests_now)})
            tests = tests_now or tests
            self.on_step(event, tests_now)
            if tests_now is not None and tests_now.all_passed:
                return LoopResult("solved", "the pristine tests pass", step, self.cost, tests)
            if gave_up:
                return LoopResult("gave_up", gave_up, step, self.cost, tests)
            if not turn.tool_calls:
                self.notice(step, "no_action", getattr(self.model, "no_action_text", None) or prompts.NO_ACTION)
            if repeat_of is not None:
                self.notice(step, "repeated", prompts.REPEATED.format(step=repeat_of))
            if spec.pressure.show_budget:
                self.notice(step, "budget", prompts.BUDGET_LINE.format(used=step, total=budget.steps))
        if step >= budget.steps:
            return LoopResult("budget_exhausted", f"step budget of {budget.steps} used", step,
                              self.cost, tests)
        return LoopResult("budget_exhausted", f"branch horizon of {step - first_step + 1} steps used", step,
                          self.cost, tests)

    def _act(self, step: int, turn: Turn) -> tuple[str | None, TestsEvent | None, list[Observation]]:
        """Run the turn's tool calls in order. Returns (give-up reason, test result that holds for
        the state after the step, observations)."""
        self.messages.append(assistant_message(turn.text, turn.tool_calls))
        observations: list[Observation] = []
        gave_up: str | None = None
        tests_now: TestsEvent | None = None
        for call in turn.tool_calls:
            obs, meta, result = self._call(step, call)
            if call.name == "give_up" and self.spec.pressure.give_up_tool:
                gave_up = str(call.arguments.get("reason") or "the agent gave up")
            if call.name == "run_tests":
                tests_now = result
            elif call.name == "bash":
                tests_now = None  # the code may have changed after the last test run
            observations.append(obs)
            self.messages.append(tool_message(call, obs, meta))
        return gave_up, tests_now, observations

    def _call(self, step: int, call: ToolCall) -> tuple[Observation, dict[str, Any], TestsEvent | None]:
        if call.name == "bash":
            command = call.arguments.get("command")
            if not isinstance(command, str) or not command.strip():
                return Observation(tool_call_id=call.id, tool="bash", exit_code=None,
                                   output="error: the bash tool needs a non-empty 'command' string"), {}, None
            res = self.env.exec(command, timeout=self.spec.budget.command_timeout)
            return Observation(tool_call_id=call.id, tool="bash", output=res.output,
                               exit_code=res.exit_code, duration_ms=round(res.duration_ms, 2),
                               truncated=res.truncated, timed_out=res.timed_out,
                               output_bytes=res.output_bytes, shell_restarted=res.shell_restarted,
                               notes=res.notes), {}, None
        if call.name == "run_tests":
            result = self.check(step, "tool")
            text = result.output
            if not result.all_passed:
                text += "\n" + self._feedback(result)
            return (Observation(tool_call_id=call.id, tool="run_tests", output=text,
                                exit_code=result.exit_code, duration_ms=round(result.duration_ms, 2)),
                    {"tests": tests_meta(result)}, result)
        if call.name == "give_up" and self.spec.pressure.give_up_tool:
            return Observation(tool_call_id=call.id, tool="give_up", output="You stopped the task.",
                               exit_code=0), {}, None
        return Observation(tool_call_id=call.id, tool=call.name, exit_code=None,
                           output=f"error: unknown tool {call.name!r}; available: "
                                  + ", ".join(t["name"] for t in self.tools)), {}, None

    def _repeat(self, step: int, turn: Turn) -> int | None:
        sig = hashlib.sha1(json.dumps([turn.text.strip(), [(c.name, c.arguments) for c in turn.tool_calls]],
                                      sort_keys=True, default=str).encode()).hexdigest()
        earlier = self.signatures.get(sig)
        self.signatures[sig] = step
        return earlier


# The messages of a step, built the same way by the loop and by a branch that rebuilds a context
# from the log (testbed/interventions/context.py): a rebuilt context hashes the same.
def assistant_message(text: str, calls: list[ToolCall]) -> Message:
    return {"role": "assistant", "content": text, "tool_calls": [c.model_dump() for c in calls]}


def tool_message(call: ToolCall, obs: Observation, meta: dict[str, Any]) -> Message:
    return {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": _render(obs), "meta": meta}


def notice_message(text: str, meta: dict[str, Any] | None = None) -> Message:
    return {"role": "user", "content": text, "meta": meta or {}}


def tests_event(r: Any, step: int, trigger: str) -> TestsEvent:
    """The log record of one verdict (a CheckResult)."""
    return TestsEvent(run_id="", step=step, trigger=trigger, passed=r.passed, failed=r.failed, errors=r.errors,
                      all_passed=r.all_passed, exit_code=r.exit_code, duration_ms=round(r.duration_ms, 1),
                      output=r.output[-4000:], verdict_basis=r.basis, reason=r.reason, collected=r.collected,
                      skipped=r.skipped, timed_out=r.timed_out, tree=r.tree, background=r.background,
                      lingering=r.lingering, omitted=r.omitted)


def tests_meta(t: Any) -> dict[str, Any]:
    return {"passed": t.passed, "failed": t.failed, "errors": t.errors, "all_passed": t.all_passed}


def _clean_turn(turn: Turn) -> Turn:
    """A model's text can hold what JSON cannot (lone surrogates): replaced before anything is
    logged, so a step that ran is never lost to an encoding error."""
    turn.text = clean(turn.text or "")
    turn.thinking = clean(turn.thinking) if turn.thinking is not None else None
    for call in turn.tool_calls:
        call.name = clean(call.name)
        call.arguments = clean(call.arguments)
    turn.parse_note = clean(turn.parse_note) if turn.parse_note is not None else None
    return turn


def _render(obs: Observation) -> str:
    text = obs.output
    if obs.tool == "bash" and not text.strip() and obs.exit_code == 0:
        text = "(the command ran and printed nothing)"
    if obs.tool == "bash" and obs.exit_code not in (0, None):
        text += f"\n[exit code {obs.exit_code}]"
    return text
