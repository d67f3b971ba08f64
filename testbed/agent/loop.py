"""The agent loop: one model turn per step, its tool calls run in the sandbox, the workspace
committed to the shadow git, the step logged, and the pristine tests run whenever the code changed.

It ends only when the harness's own test run passes (solved), the agent calls give_up (gave_up),
or a budget runs out (budget_exhausted: steps, wall seconds or cost).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from testbed.agent import prompts
from testbed.agent.checker import TestResult, verdict
from testbed.agent.tools import tool_specs
from testbed.log import (EventWriter, NoticeEvent, Observation, StepEvent, TestsEvent, ToolCall,
                         TruthEvent, Narration)
from testbed.models.base import Message, Model, Turn
from testbed.sandbox import Sandbox
from testbed.sandbox.workspace import ShadowRepo


@dataclass
class LoopConfig:
    prompt: str
    protected: list[str]
    test_command: str
    max_steps: int = 30
    wall_seconds: float = 1800
    cost_usd: float | None = None
    command_timeout: float = 60
    test_timeout: float = 120
    feedback: str = "neutral"
    give_up_tool: bool = True
    show_budget: bool = True
    seed: int = 0


@dataclass
class LoopResult:
    outcome: str
    reason: str
    steps: int
    cost_usd: float | None
    last_tests: TestResult | None = None
    notes: list[str] = field(default_factory=list)


class AgentLoop:
    def __init__(self, model: Model, sandbox: Sandbox, shadow: ShadowRepo, log: EventWriter,
                 config: LoopConfig, on_step: Callable[[StepEvent, TestResult | None], None] | None = None):
        self.model, self.sandbox, self.shadow, self.log, self.cfg = model, sandbox, shadow, log, config
        self.on_step = on_step or (lambda step, tests: None)
        self.tools = tool_specs(config.give_up_tool)
        self.messages: list[Message] = []
        self.cost: float | None = 0.0
        self.checks = 0
        self.signatures: dict[str, int] = {}

    # -- the harness's test run ---------------------------------------------------------------
    def check(self, step: int, trigger: str) -> TestResult:
        self.checks += 1
        env = {"TESTBED_SEED": str(self.cfg.seed * 1000 + self.checks)}
        result = verdict(self.sandbox.check(self.cfg.test_command, self.cfg.test_timeout, env))
        self.log.write(TestsEvent(run_id="", step=step, trigger=trigger, passed=result.passed,
                                  failed=result.failed, errors=result.errors,
                                  all_passed=result.all_passed, exit_code=result.exit_code,
                                  duration_ms=round(result.duration_ms, 1),
                                  output=result.output[-4000:]))
        return result

    def notice(self, step: int, kind: str, text: str, meta: dict[str, Any] | None = None) -> None:
        self.log.write(NoticeEvent(run_id="", step=step, kind=kind, text=text))
        self.messages.append({"role": "user", "content": text, "meta": meta or {}})

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> LoopResult:
        cfg = self.cfg
        start = time.monotonic()
        tests = self.check(0, "initial")
        if tests.all_passed:
            return LoopResult("solved", "the tests already pass before any step", 0, 0.0, tests)
        give_up_line = prompts.GIVE_UP_TOOL if cfg.give_up_tool else ""
        self.messages = [
            {"role": "system", "content": prompts.SYSTEM.format(give_up=give_up_line,
                                                                protected=", ".join(cfg.protected))},
            {"role": "user", "meta": {"tests": {**_meta(tests), "initial": True}},
             "content": prompts.TASK.format(prompt=cfg.prompt.strip(), test_command=cfg.test_command,
                                            status=prompts.test_status(tests.passed, tests.failed,
                                                                       tests.errors, tests.all_passed))
             + ("\n" + prompts.BUDGET_LINE.format(used=0, total=cfg.max_steps) if cfg.show_budget else "")},
        ]
        for step in range(1, cfg.max_steps + 1):
            if time.monotonic() - start > cfg.wall_seconds:
                return LoopResult("budget_exhausted", f"wall-clock budget of {cfg.wall_seconds:g} s used",
                                  step - 1, self.cost, tests)
            if cfg.cost_usd is not None and self.cost is not None and self.cost >= cfg.cost_usd:
                return LoopResult("budget_exhausted", f"cost budget of ${cfg.cost_usd:g} used",
                                  step - 1, self.cost, tests)
            turn = self.model.turn(self.messages, self.tools)
            if turn.usage.cost_usd is None:
                self.cost = None  # unknown from here on; never guessed
            elif self.cost is not None:
                self.cost += turn.usage.cost_usd
            gave_up, tests_now, observations = self._act(step, turn)
            snapshot = self.shadow.snapshot(f"step {step}")
            repeat_of = self._repeat(step, turn)
            event = self.log.write(StepEvent(
                run_id="", index=step, narration=Narration(text=turn.text, thinking=turn.thinking),
                tool_calls=turn.tool_calls, observations=observations, snapshot=snapshot,
                usage=turn.usage, repeat_of=repeat_of, parse_note=turn.parse_note))
            if turn.truth is not None:
                self.log.write(TruthEvent(run_id="", step=step, **turn.truth))
            if tests_now is None and snapshot.changed:
                tests_now = self.check(step, "auto")
                if not tests_now.all_passed and not gave_up:
                    self.notice(step, "tests_failed",
                                prompts.feedback(cfg.feedback, tests_now.passed, tests_now.failed),
                                {"tests": _meta(tests_now)})
            tests = tests_now or tests
            self.on_step(event, tests_now)
            if tests_now is not None and tests_now.all_passed:
                return LoopResult("solved", "the pristine tests pass", step, self.cost, tests)
            if gave_up:
                return LoopResult("gave_up", gave_up, step, self.cost, tests)
            if not turn.tool_calls:
                self.notice(step, "no_action", prompts.NO_ACTION)
            if repeat_of is not None:
                self.notice(step, "repeated", prompts.REPEATED.format(step=repeat_of))
            if cfg.show_budget:
                self.notice(step, "budget", prompts.BUDGET_LINE.format(used=step, total=cfg.max_steps))
        return LoopResult("budget_exhausted", f"step budget of {cfg.max_steps} used", cfg.max_steps,
                          self.cost, tests)

    def _act(self, step: int, turn: Turn) -> tuple[str | None, TestResult | None, list[Observation]]:
        """Run the turn's tool calls in order. Returns (give-up reason, test result that holds for
        the state after the step, observations)."""
        self.messages.append({"role": "assistant", "content": turn.text,
                              "tool_calls": [c.model_dump() for c in turn.tool_calls]})
        observations: list[Observation] = []
        gave_up: str | None = None
        tests_now: TestResult | None = None
        for call in turn.tool_calls:
            obs, meta = self._call(step, call)
            if call.name == "give_up":
                gave_up = str(call.arguments.get("reason") or "the agent gave up")
            if call.name == "run_tests":
                tests_now = meta.pop("_result")
            elif call.name == "bash":
                tests_now = None  # the code may have changed after the last test run
            observations.append(obs)
            self.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                                  "content": _render(obs), "meta": meta})
        return gave_up, tests_now, observations

    def _call(self, step: int, call: ToolCall) -> tuple[Observation, dict[str, Any]]:
        if call.name == "bash":
            command = call.arguments.get("command")
            if not isinstance(command, str) or not command.strip():
                return Observation(tool_call_id=call.id, tool="bash", exit_code=None,
                                   output="error: the bash tool needs a non-empty 'command' string"), {}
            res = self.sandbox.exec(command, timeout=self.cfg.command_timeout)
            return Observation(tool_call_id=call.id, tool="bash", output=res.output,
                               exit_code=res.exit_code, duration_ms=round(res.duration_ms, 2),
                               truncated=res.truncated, timed_out=res.timed_out,
                               output_bytes=res.output_bytes, shell_restarted=res.shell_restarted), {}
        if call.name == "run_tests":
            result = self.check(step, "tool")
            text = result.output
            if not result.all_passed:
                text += "\n" + prompts.feedback(self.cfg.feedback, result.passed, result.failed)
            return (Observation(tool_call_id=call.id, tool="run_tests", output=text,
                                exit_code=result.exit_code, duration_ms=round(result.duration_ms, 2)),
                    {"tests": _meta(result), "_result": result})
        if call.name == "give_up" and self.cfg.give_up_tool:
            return Observation(tool_call_id=call.id, tool="give_up", output="You stopped the task.",
                               exit_code=0), {}
        return Observation(tool_call_id=call.id, tool=call.name, exit_code=None,
                           output=f"error: unknown tool {call.name!r}; available: "
                                  + ", ".join(t["name"] for t in self.tools)), {}

    def _repeat(self, step: int, turn: Turn) -> int | None:
        sig = hashlib.sha1(json.dumps([turn.text.strip(), [(c.name, c.arguments) for c in turn.tool_calls]],
                                      sort_keys=True, default=str).encode()).hexdigest()
        earlier = self.signatures.get(sig)
        self.signatures[sig] = step
        return earlier


def _meta(t: TestResult) -> dict[str, Any]:
    return {"passed": t.passed, "failed": t.failed, "errors": t.errors, "all_passed": t.all_passed}


def _render(obs: Observation) -> str:
    text = obs.output
    if obs.tool == "bash" and obs.exit_code not in (0, None):
        text += f"\n[exit code {obs.exit_code}]"
    return text
