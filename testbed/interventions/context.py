"""The model's exact context at any step, rebuilt from a run's log.

The loop builds its messages from what it logs (testbed/agent/loop.py: `initial_messages`,
`assistant_message`, `tool_message`, `notice_message`), so the log is enough to rebuild them:
per step, the assistant turn, one tool message per call (a `run_tests` call carries the counts of
the harness's `tool` test run at that step), then the step's notices in log order (`tests_failed`
carries the step's `auto` test run). Every step event records the hash of the context its turn saw
(`context_hash`); `rebuild` checks the rebuilt context against it, and a mismatch is an error.
"""
from __future__ import annotations

from typing import Any

from testbed.agent.loop import (assistant_message, context_hash, initial_messages, notice_message,
                                tests_meta, tool_message)
from testbed.models.base import Message


class ContextMismatch(ValueError):
    """The rebuilt context does not hash to what the run recorded."""


def spec_of(run: Any) -> Any:
    """The RunSpec a run was made with (its scenario's reference patch added back)."""
    from testbed.scenario import ScenarioError, load_scenario
    from testbed.spec import RunSpec
    cfg = (run.started.config if run.started else {}) or {}
    if "spec" not in cfg:
        raise ValueError(f"{run.path}: the run records no RunSpec (made by an older testbed, or imported)")
    spec = RunSpec.model_validate(cfg["spec"])
    try:
        spec.task.reference_patch = load_scenario(spec.scenario).reference_patch()
    except ScenarioError:
        pass
    return spec


def step_messages(run: Any, step: Any) -> list[Message]:
    """The messages one step added to the context, as the loop appended them."""
    out = [assistant_message(step.narration.text, step.tool_calls)]
    tool_tests = [t for t in run.tests if t.step == step.index and t.trigger == "tool"]
    auto = next((t for t in run.tests if t.step == step.index and t.trigger == "auto"), None)
    obs_by_id = {o.tool_call_id: o for o in step.observations}
    k = 0
    for i, call in enumerate(step.tool_calls):
        obs = obs_by_id.get(call.id) or (step.observations[i] if i < len(step.observations) else None)
        if obs is None:
            continue
        meta: dict[str, Any] = {}
        if call.name == "run_tests" and k < len(tool_tests):
            meta = {"tests": tests_meta(tool_tests[k])}
            k += 1
        out.append(tool_message(call, obs, meta))
    for n in (n for n in run.notices if n.step == step.index):
        meta = {"tests": tests_meta(auto)} if n.kind == "tests_failed" and auto is not None else {}
        out.append(notice_message(n.text, meta))
    return out


def messages_before(run: Any, step_index: int, spec: Any = None,
                    narration: dict[int, str] | None = None) -> list[Message]:
    """The context the turn of step `step_index` saw (`narration` replaces some steps' text)."""
    spec = spec or spec_of(run)
    initial = next((t for t in run.tests if t.step == 0 and t.trigger == "initial"), None)
    if initial is None:
        raise ValueError(f"{run.path}: no initial test run in the log")
    messages = initial_messages(spec, initial)
    for step in run.steps:
        if step.index >= step_index:
            break
        msgs = step_messages(run, step)
        if narration and step.index in narration:
            msgs[0] = {**msgs[0], "content": narration[step.index]}
        messages += msgs
    return messages


def rebuild(run: Any, at: int, spec: Any = None) -> tuple[list[Message], str]:
    """The context right after step `at` (what step at+1's turn sees), checked against the log:
    the hash recorded in step at+1, or, when the run ended at `at`, the hash of step `at`'s own
    context (then the last step's messages are rebuilt without a recorded hash to check them)."""
    spec = spec or spec_of(run)
    indices = [s.index for s in run.steps]
    if at < 0 or at > (indices[-1] if indices else 0):
        raise ValueError(f"the run has steps 1..{indices[-1] if indices else 0}; cannot branch at {at}")
    messages = messages_before(run, at + 1, spec)
    after = next((s for s in run.steps if s.index == at + 1), None)
    if after is not None and after.context_hash:
        check, what = after.context_hash, f"step {at + 1}"
        got = context_hash(messages)
    else:
        this = next((s for s in run.steps if s.index == at), None)
        if this is None or not this.context_hash:
            raise ContextMismatch(f"{run.path}: no recorded context hash to check step {at} against")
        check, what = this.context_hash, f"step {at} (the run ended there)"
        got = context_hash(messages_before(run, at, spec))
    if got != check:
        raise ContextMismatch(f"{run.path}: the context rebuilt for {what} hashes to {got[:12]}, the run "
                              f"recorded {check[:12]}: the log does not determine the context")
    return messages, got
