"""SWE-agent `.traj` files.

A `.traj` is `{"trajectory": [...], "history": [...], "info": {...}, "replay_config", "environment"}`
(`DefaultAgent.get_trajectory_data`). Each trajectory entry is one model turn:
`{"thought", "action", "observation", "response", "execution_time", "state", "query", "extra_info"}`,
including the turns SWE-agent re-queried after a format error (their action is usually empty).
`info.exit_status` is `submitted`, `submitted (exit_cost)` (autosubmitted after a limit), `exit_cost`,
`exit_context`, `exit_format`, `exit_error`, `exit_forfeit`, …; the RetryAgent writes the same
per attempt under `attempts`. Actions are shell lines: tool invocations such as
`str_replace_editor str_replace PATH --old_str … --new_str …` are shell-quoted (`shlex.quote`) by
SWE-agent's function-calling parser, so they are split back into their arguments here.

Sources: SWE-agent/SWE-agent `sweagent/types.py` (StepOutput, TrajectoryStep, AgentInfo),
`sweagent/agent/agents.py` (get_trajectory_data, forward_with_handling, handle_submission),
`sweagent/tools/parsing.py`, `tools/edit_anthropic/config.yaml`.
"""
from __future__ import annotations

import json
import re
import shlex
from typing import Any, Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, Source, bash_call,
                                    expect, text_of)
from testbed.log import Observation, ToolCall

_LIMITS = ("exit_cost", "exit_context", "exit_total_execution_time")
_ERRORS = ("exit_format", "exit_error", "exit_api", "exit_environment_error", "exit_command_timeout")
_GAVE_UP = ("exit_forfeit", "exit_command")
# What SWE-agent writes as the "thought" of the step it adds when it stops the agent itself.
_HARNESS_EXITS = ("Exit due to", "Exiting due to")


def outcome_of(exit_status: Any) -> tuple[str, str]:
    if not exit_status:
        return "unknown", "the trajectory records no exit status (the run may have been cut off)"
    status = str(exit_status)
    inner = status[len("submitted ("):-1] if status.startswith("submitted (") else status
    if status == "submitted":
        outcome = "submitted"
    elif inner in _LIMITS:
        outcome = "budget_exhausted"
    elif inner in _GAVE_UP:
        outcome = "gave_up"
    elif inner in _ERRORS:
        outcome = "error"
    else:
        outcome = "unknown"
    return outcome, f"SWE-agent exit status {status!r}"


def tool_call_for(call_id: str, action: str, open_file: str | None = None) -> ToolCall:
    """A SWE-agent action as a tool call: file edits under their own tool names, the rest bash.

    The windowed tools (`tools/windowed*`) edit the file last opened (`open`, `create`) without
    naming it; `open_file` is that file, so their calls carry a `path` and are judged as edits."""
    text = action.strip()
    first = text.split(None, 1)[0] if text else ""
    if first == "str_replace_editor":
        args = _editor_args(text)
        if args is not None:
            return ToolCall(id=call_id, name="str_replace_editor", arguments=args)
    where = {"path": open_file} if open_file else {}
    m = re.match(r"edit\s+(\d+):(\d+)\n(.*?)\n?end_of_edit\s*$", text, re.DOTALL)
    if m:  # windowed_edit_linting / windowed_edit_rewrite: replace a line range
        return ToolCall(id=call_id, name="edit", arguments={
            **where, "start_line": int(m.group(1)), "end_line": int(m.group(2)), "new_str": m.group(3)})
    if first in ("edit", "insert"):
        argv = _split(text)
        if first == "edit" and argv is not None and len(argv) in (3, 4):  # windowed_edit_replace
            return ToolCall(id=call_id, name="edit", arguments={
                **where, "old_str": argv[1], "new_str": argv[2],
                "replace_all": len(argv) == 4 and argv[3].lower() in ("true", "1", "yes")})
        if first == "insert" and argv is not None and len(argv) in (2, 3):
            line = int(argv[2]) if len(argv) == 3 and argv[2].isdigit() else None
            return ToolCall(id=call_id, name="insert", arguments={**where, "new_str": argv[1], "insert_line": line})
    m = re.match(r"create\s+(\S+)\s*$", text)
    if m:
        return ToolCall(id=call_id, name="create", arguments={"path": m.group(1)})
    return bash_call(call_id, text)


def opened_file(action: str, current: str | None) -> str | None:
    """The windowed tools' current file after `action` (`open PATH [LINE]`, `create PATH`)."""
    text = action.strip()
    if text.split(None, 1)[:1] in (["open"], ["create"]):
        argv = _split(text)
        if argv and len(argv) >= 2:
            return argv[1]
    return current


def _split(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def _editor_args(text: str) -> dict[str, Any] | None:
    argv = _split(text)
    if argv is None or len(argv) < 3:
        return None
    args: dict[str, Any] = {"command": argv[1], "path": argv[2]}
    rest = argv[3:]
    i = 0
    while i < len(rest):
        key = rest[i]
        if not key.startswith("--"):
            return None
        name = key[2:]
        values = []
        i += 1
        while i < len(rest) and not rest[i].startswith("--"):
            values.append(rest[i])
            i += 1
        if name == "insert_line" and len(values) == 1 and values[0].lstrip("-").isdigit():
            args[name] = int(values[0])
        elif name == "view_range":
            joined = " ".join(values).strip("[] ").replace(",", " ").split()
            args[name] = [int(v) for v in joined if v.lstrip("-").isdigit()]
        else:
            args[name] = " ".join(values) if len(values) != 1 else values[0]
    return args


class SweAgentImporter:
    name = "swe-agent"
    suffixes = (".traj",)

    def sniff(self, source: Source) -> str | None:
        if source.is_zip():
            return "it is a zip archive, not a JSON trajectory"
        obj = source.json_or_none()
        if not isinstance(obj, dict):
            return "not a JSON object"
        if isinstance(obj.get("trajectory"), list) and ("info" in obj or "history" in obj):
            return None
        if _history_turns(obj) is not None:
            return None  # a demonstration: the model's history only
        attempts = obj.get("attempts")
        if isinstance(attempts, list) and attempts and all(
                isinstance(a, dict) and isinstance(a.get("trajectory"), list) for a in attempts):
            return None
        return ("no top-level 'trajectory' list with 'info'/'history' (nor RetryAgent 'attempts', nor a "
                "demonstration's 'history' of actions)")

    def episode_keys(self, source: Source) -> list[str] | None:
        obj = source.json_or_none()
        attempts = obj.get("attempts") if isinstance(obj, dict) else None
        if isinstance(attempts, list) and attempts:
            return [f"attempt{n}" for n in range(len(attempts))]
        return [""]

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        obj = source.json()
        expect(isinstance(obj, dict), source, "top level", "expected a JSON object")
        attempts = obj.get("attempts")
        if isinstance(attempts, list) and attempts:
            # The top level repeats the chosen attempt; each attempt is its own episode.
            best = (obj.get("info") or {}).get("best_attempt_idx") if isinstance(obj.get("info"), dict) else None
            for n, attempt in enumerate(attempts):
                at = f"attempts[{n}]"
                expect(isinstance(attempt, dict), source, at, "an attempt must be a JSON object")
                traj = _trajectory(source, attempt, at, key=f"attempt{n}", fallback=obj)
                traj.metadata["attempt"] = n
                traj.metadata["best_attempt"] = best == n if best is not None else None
                yield traj
        else:
            yield _trajectory(source, obj, "", key="", fallback=obj)


def _history_turns(obj: dict) -> list[dict] | None:
    """The turns of a file that holds only `history` (SWE-agent's demonstrations,
    `trajectories/demonstrations/*.traj`): each assistant message's thought and action, with the
    next tool/user message as its observation, in the shape of trajectory entries."""
    history = obj.get("history")
    if "trajectory" in obj or not isinstance(history, list) or not any(
            isinstance(h, dict) and h.get("role") == "assistant" and isinstance(h.get("action"), str) for h in history):
        return None
    turns = []
    for i, h in enumerate(history):
        if not (isinstance(h, dict) and h.get("role") == "assistant"):
            continue
        nxt = history[i + 1] if i + 1 < len(history) and isinstance(history[i + 1], dict) else {}
        observation = text_of(nxt.get("content")) if nxt.get("role") in ("tool", "user") else None
        turns.append({"thought": h.get("thought") if isinstance(h.get("thought"), str) else None,
                      "action": h.get("action") if isinstance(h.get("action"), str) else "",
                      "response": text_of(h.get("content")), "observation": observation, "_at": f"history[{i}]"})
    return turns


def _trajectory(source: Source, obj: dict, prefix: str, key: str, fallback: dict) -> ImportedTrajectory:
    where = (prefix + "." if prefix else "")
    demo = _history_turns(obj)
    entries = demo if demo is not None else obj.get("trajectory")
    expect(isinstance(entries, list), source, where + "trajectory", "missing or not a list")
    info = obj.get("info") if isinstance(obj.get("info"), dict) else {}
    replay = _replay_config(obj.get("replay_config") or fallback.get("replay_config"))
    steps: list[ImportedStep] = []
    notices: list[ImportedNotice] = []
    open_file: str | None = None
    for i, entry in enumerate(entries):
        at = f"{where}trajectory[{i}]" if demo is None else entry["_at"]
        expect(isinstance(entry, dict), source, at, "a trajectory entry must be a JSON object")
        action, thought = entry.get("action"), entry.get("thought")
        expect(action is None or isinstance(action, str), source, at + ".action", "not a string")
        expect(thought is None or isinstance(thought, str), source, at + ".thought", "not a string")
        response = entry.get("response") if isinstance(entry.get("response"), str) else ""
        action, thought = action or "", thought or response
        if not action.strip() and thought == response and thought.startswith(_HARNESS_EXITS):
            # An autosubmission entry: SWE-agent's own words when it stops the agent, not a model turn.
            observation = entry.get("observation")
            notices.append(ImportedNotice(step=len(steps), kind="harness_exit", at=at,
                                          text=thought + (f"\n{observation}" if observation else "")))
            continue
        step = ImportedStep(at=at)
        step.text, step.after = _narration(thought, response, action)
        reasoning = entry.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning.strip():
            step.thinking = reasoning
        if action.strip():
            call = tool_call_for(f"{at}.action", action, open_file)
            open_file = opened_file(action, open_file)
            step.tool_calls.append(call)
            observation = entry.get("observation")
            duration = entry.get("execution_time")
            output = observation if isinstance(observation, str) else text_of(observation)
            step.observations.append(Observation(
                tool_call_id=call.id, tool=call.name, output=output, exit_code=None,
                duration_ms=round(float(duration) * 1000, 1) if isinstance(duration, (int, float)) else None,
                output_bytes=len(output.encode("utf-8", errors="replace"))))
            step.observations_at.append(at + ".observation")
        else:
            step.parse_note = "no action parsed from the reply (SWE-agent re-queries the model after this)"
        steps.append(step)

    exit_status = info.get("exit_status")
    outcome, reason = outcome_of(exit_status)
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    problem = replay.get("problem_statement") if isinstance(replay.get("problem_statement"), dict) else {}
    agent_cfg = replay.get("agent") if isinstance(replay.get("agent"), dict) else {}
    model_cfg = agent_cfg.get("model") if isinstance(agent_cfg.get("model"), dict) else {}
    # SWE-agent names the file after the problem statement id (`<id>.traj`).
    stem = source.path.name.removesuffix(".traj")
    scenario = str(problem.get("id") or stem or "unknown")
    cost = stats.get("instance_cost")
    return ImportedTrajectory(
        key=key, name=scenario + (f"-{key}" if key else ""), scenario=scenario,
        model=str(model_cfg.get("name") or "unknown"), task=_task(obj, problem), steps=steps,
        notices=notices,
        outcome=outcome, reason=reason, source_exit_status=exit_status,
        cost_usd=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
        at=prefix,
        metadata={"swe_agent_version": info.get("swe_agent_version"),
                  "environment": obj.get("environment") or fallback.get("environment"),
                  "api_calls": stats.get("api_calls"), "tokens_sent": stats.get("tokens_sent"),
                  "tokens_received": stats.get("tokens_received"),
                  "submission": info.get("submission")},
        notes=["SWE-agent records no exit codes and no per-step timestamps"]
        + (["a demonstration (history only): no exit status, no cost, observations from the next message"]
           if demo is not None else []))


def _replay_config(raw: Any) -> dict:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _task(obj: dict, problem: dict) -> str | None:
    if isinstance(problem.get("text"), str):
        return problem["text"]
    for item in obj.get("history") or []:
        if isinstance(item, dict) and item.get("role") == "user" and not item.get("is_demo"):
            return text_of(item.get("content"))
    return None


def _narration(thought: str, response: str, action: str) -> tuple[str, str | None]:
    """Text before the action, and after it, when the reply shows where the action was."""
    needle = action.strip()
    if needle and response and needle in response:
        at = response.rfind(needle)
        fence = response.rfind("```", 0, at)
        start = fence if fence != -1 else at
        close = response.find("```", at + len(needle))
        end = close + 3 if close != -1 else at + len(needle)
        before, after = response[:start].strip(), response[end:].strip()
        return before, after or None
    return thought.strip(), None
