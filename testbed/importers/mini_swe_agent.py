"""mini-swe-agent `.traj.json` trajectories, both layouts.

1.x (`"trajectory_format": "mini-swe-agent-1"`): `messages` are plain `{role, content}` dicts; the
agent ran the one ```bash block of each assistant reply; the next user message is the observation
(`<returncode>N</returncode><output>…</output>` with the shipped configs); `info.exit_status` says
how it ended (`Submitted`, `LimitsExceeded`, or an exception's class name).

2.x (`"trajectory_format": "mini-swe-agent-1.1"`): messages are the model's native messages plus an
`extra` dict: assistant `extra.actions` lists what the agent executed (`{"command", "tool_call_id"}`),
observations are `role: "tool"` messages (tool calling, the default) or user messages with
`extra.returncode` / `extra.raw_output`, and the last message has `role: "exit"` with
`extra.exit_status` and `extra.submission`.

Sources: SWE-agent/mini-swe-agent `src/minisweagent/run/utils/save.py` (1.x), `agents/default.py`,
`models/utils/actions_text.py`, `models/utils/actions_toolcall.py`, `docs/advanced/v2_migration.md`
and the project's `docs/usage/output_files.md`.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, Source,
                                    bash_call, expect, iso_from_unix, seconds_between, text_of)
from testbed.log import Observation, ToolCall, Usage

# The defaults of each major version (what mini itself matched when the config did not say).
V1_ACTION_REGEX = r"```bash\s*\n(.*?)\n```"
V2_ACTION_REGEX = r"```mswea_bash_command\s*\n(.*?)\n```"

EXIT_STATUS_OUTCOMES = {
    "Submitted": "submitted",
    "LimitsExceeded": "budget_exhausted",
    "TimeExceeded": "budget_exhausted",  # mini 2.x: a LimitsExceeded for its wall_time_limit_seconds
    "CostLimitExceededError": "budget_exhausted",
    "ContextWindowExceededError": "budget_exhausted",
    "UserInterruption": "interrupted",
    "KeyboardInterrupt": "interrupted",
}

_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")
_OUTPUT = re.compile(r"<output>\n?(.*?)\n?</output>", re.DOTALL)
_HEAD = re.compile(r"<output_head>\n?(.*?)\n?</output_head>", re.DOTALL)
_TAIL = re.compile(r"<output_tail>\n?(.*?)\n?</output_tail>", re.DOTALL)
_ELIDED = re.compile(r"<elided_chars>\s*(\d+)")
_EXCEPTION = re.compile(r"<exception>(.*?)</exception>", re.DOTALL)


def outcome_of(exit_status: Any) -> tuple[str, str]:
    if not exit_status:
        return "unknown", "the trajectory records no exit status (the run may have been cut off)"
    status = str(exit_status)
    if status in EXIT_STATUS_OUTCOMES:
        outcome = EXIT_STATUS_OUTCOMES[status]
    elif status in ("RepeatedFormatError", "FormatError") or status.endswith(("Error", "Exception")):
        outcome = "error"
    else:
        outcome = "unknown"
    return outcome, f"mini-swe-agent exit status {status!r}"


class MiniSweAgentImporter:
    name = "mini-swe-agent"
    suffixes = (".traj.json",)

    def sniff(self, source: Source) -> str | None:
        if source.is_zip():
            return "it is a zip archive, not a JSON trajectory"
        obj = source.json_or_none()
        if _bare_messages(obj):
            return None
        if not isinstance(obj, dict):
            return "not a JSON object (nor a bare list of mini's messages)"
        fmt = obj.get("trajectory_format")
        if isinstance(fmt, str) and fmt.startswith("mini-swe-agent"):
            return None
        if isinstance(obj.get("messages"), list) and isinstance(obj.get("info"), dict) and (
                "mini_version" in obj["info"]):
            return None
        return "no 'trajectory_format: mini-swe-agent-…' and no info.mini_version"

    def episode_keys(self, source: Source) -> list[str] | None:
        return [""]

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        obj = source.json()
        if _bare_messages(obj):
            # mini's own test data (tests/test_data/*.traj.json): the messages list alone, no info
            v2 = any("```mswea_bash_command" in str(m.get("content")) for m in obj)
            reader = _Reader(source, obj, {}, v2, {})
            reader.notes.append("a bare list of messages: no info, so no exit status, model or version")
            yield reader.trajectory("", "")
            return
        expect(isinstance(obj, dict), source, "top level", "expected a JSON object")
        messages = obj.get("messages")
        expect(isinstance(messages, list), source, "messages", "missing or not a list")
        info = obj.get("info") if isinstance(obj.get("info"), dict) else {}
        fmt = str(obj.get("trajectory_format") or "")
        version = str(info.get("mini_version") or "")
        v2 = fmt == "mini-swe-agent-1.1" or version.startswith("2")
        yield _Reader(source, messages, info, v2, obj).trajectory(fmt, version)


def _bare_messages(obj: object) -> bool:
    """A JSON list of chat messages in mini's layout: a system prompt, then the task, then replies
    and `<returncode>` observations."""
    return (isinstance(obj, list) and len(obj) >= 3 and all(isinstance(m, dict) and "role" in m for m in obj)
            and obj[0].get("role") == "system"
            and any(m.get("role") == "user" and "<returncode>" in str(m.get("content")) for m in obj))


class _Reader:
    def __init__(self, source: Source, messages: list, info: dict, v2: bool, obj: dict):
        self.source, self.messages, self.info, self.v2, self.obj = source, messages, info, v2, obj
        self.notes: list[str] = []
        self.action_regex = self._action_regex()

    def _action_regex(self) -> re.Pattern[str]:
        config = self.info.get("config") if isinstance(self.info.get("config"), dict) else {}
        for part in ("model", "agent"):
            section = config.get(part)
            if isinstance(section, dict) and isinstance(section.get("action_regex"), str):
                try:
                    return re.compile(section["action_regex"], re.DOTALL)
                except re.error as exc:
                    self.notes.append(f"config.{part}.action_regex does not compile ({exc}); "
                                      "used the default")
        return re.compile(V2_ACTION_REGEX if self.v2 else V1_ACTION_REGEX, re.DOTALL)

    def trajectory(self, fmt: str, version: str) -> ImportedTrajectory:
        steps: list[ImportedStep] = []
        notices: list[ImportedNotice] = []
        task: str | None = None
        exit_msg: dict | None = None
        pending: list[tuple[str, str]] = []  # (tool_call_id, command) of the last step awaiting output
        for i, msg in enumerate(self.messages):
            at = f"messages[{i}]"
            expect(isinstance(msg, dict), self.source, at, "a message must be a JSON object")
            role = msg.get("role")
            extra = msg.get("extra") if isinstance(msg.get("extra"), dict) else {}
            if role is None and msg.get("object") == "response":
                role = "assistant"  # an OpenAI /responses message stored natively (2.x)
            elif role is None and msg.get("type") == "function_call_output":
                # its observation in the same layout: a Responses input item, with no role
                role = "tool"
                msg = {**msg, "role": role, "tool_call_id": msg.get("call_id"), "content": msg.get("output")}
            if role == "system":
                continue
            if role == "exit":
                exit_msg = msg
                if pending and extra.get("exit_status") == "Submitted":
                    self._observe(steps[-1], pending, text_of(msg.get("content")), None, at,
                                  submission=True)
                continue
            if role == "assistant":
                step, pending = self._assistant(msg, extra, at)
                steps.append(step)
                continue
            if role in ("user", "tool"):
                content = text_of(msg.get("content"))
                if not steps and task is None and role == "user":
                    task = content
                    continue
                failed = _failed_reply(extra) if extra.get("interrupt_type") == "FormatError" else None
                if failed is not None and self._prev_role(i) != "assistant":
                    # mini 2.x keeps a reply it refused only inside the error message: it is still
                    # a turn of the agent (its words, its cost), and it ran nothing
                    text, usage = failed
                    steps.append(ImportedStep(text=text, at=f"{at}.extra.response", usage=usage,
                                              ts=iso_from_unix(extra.get("timestamp")),
                                              parse_note="mini-swe-agent refused the reply: "
                                                         + (content.strip().splitlines() or [""])[0][:200]))
                    pending = []
                if self._is_observation(role, msg, extra, content, pending):
                    self._observation(steps[-1], pending, msg, extra, content, at)
                    continue
                kind = _notice_kind(extra, content)
                if kind == "timeout" and pending and steps:
                    out = _OUTPUT.search(content)
                    self._observe(steps[-1], pending, out.group(1) if out else "", None, at,
                                  timed_out=True)
                    continue
                if (pending and steps and i == len(self.messages) - 1 and role == "user"
                        and self.info.get("exit_status") == "Submitted"):
                    # 1.x: the final command's output went into the submission message.
                    self._observe(steps[-1], pending, content, None, at, submission=True)
                    continue
                notices.append(ImportedNotice(step=len(steps), kind=kind, text=content, at=at,
                                              ts=iso_from_unix(extra.get("timestamp"))))
                continue
            expect(False, self.source, at, f"unknown message role {role!r}")
        for step in steps:
            missing = len(step.tool_calls) - len(step.observations)
            if missing > 0 and not step.parse_note:
                step.note = f"no observation recorded for {missing} of the step's commands"

        exit_extra = exit_msg.get("extra", {}) if isinstance(exit_msg, dict) else {}
        exit_status = exit_extra.get("exit_status") or self.info.get("exit_status")
        outcome, reason = outcome_of(exit_status)
        stats = self.info.get("model_stats") if isinstance(self.info.get("model_stats"), dict) else {}
        config = self.info.get("config") if isinstance(self.info.get("config"), dict) else {}
        model_cfg = config.get("model") if isinstance(config.get("model"), dict) else {}
        model = model_cfg.get("model_name") or "unknown"
        instance = self.obj.get("instance_id") or self.info.get("instance_id")
        stamps = [s.ts for s in steps if s.ts]
        exit_ts = iso_from_unix(exit_msg.get("extra", {}).get("timestamp")) if isinstance(exit_msg, dict) else None
        if exit_ts:
            stamps.append(exit_ts)
        name = str(instance) if instance else Path(self.source.path.name.removesuffix(".json")).stem
        cost = stats.get("instance_cost")
        return ImportedTrajectory(
            key="", name=name, scenario=str(instance) if instance else "unknown", model=str(model),
            task=task, steps=steps, notices=notices, outcome=outcome, reason=reason,
            source_exit_status=exit_status,
            cost_usd=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
            started=stamps[0] if stamps else None, finished=stamps[-1] if stamps else None,
            wall_s=seconds_between(stamps[0], stamps[-1]) if stamps else None,
            metadata={"trajectory_format": fmt or None, "mini_version": version or None,
                      "layout": "2.x" if self.v2 else "1.x",
                      "agent_type": config.get("agent_type"), "model_type": config.get("model_type"),
                      "environment_type": config.get("environment_type"),
                      "api_calls": stats.get("api_calls"),
                      "submission": exit_extra.get("submission", self.info.get("submission"))},
            notes=self.notes)

    def _prev_role(self, i: int) -> str | None:
        prev = self.messages[i - 1] if i > 0 else None
        if not isinstance(prev, dict):
            return None
        return "assistant" if prev.get("object") == "response" else prev.get("role")

    # -- one assistant reply ----------------------------------------------------------------
    def _assistant(self, msg: dict, extra: dict, at: str) -> tuple[ImportedStep, list[tuple[str, str]]]:
        content = _assistant_text(msg)
        step = ImportedStep(at=at, ts=iso_from_unix(extra.get("timestamp")),
                            thinking=_thinking(msg), usage=_usage(extra))
        actions = extra.get("actions")
        tool_calls = _native_tool_calls(msg)
        pending: list[tuple[str, str]] = []
        if isinstance(actions, list):
            # What mini itself executed (2.x). Tool calls carry their id; text actions do not.
            step.text = content.strip()
            for n, action in enumerate(actions):
                if not isinstance(action, dict) or not isinstance(action.get("command"), str):
                    continue
                call_id = str(action.get("tool_call_id") or f"{at}.actions[{n}]")
                step.tool_calls.append(bash_call(call_id, action["command"]))
                pending.append((call_id, action["command"]))
            if not tool_calls and step.tool_calls:
                step.text, step.after = _split_around_action(content, self.action_regex)
            if not step.tool_calls:
                step.parse_note = "no command in the reply, so nothing ran"
        elif tool_calls:
            step.text = content.strip()
            for call_id, name, args in tool_calls:
                command = args.get("command") if isinstance(args, dict) else None
                if name == "bash" and isinstance(command, str):
                    step.tool_calls.append(bash_call(call_id, command))
                    pending.append((call_id, command))
                else:
                    step.tool_calls.append(ToolCall(id=call_id, name=str(name), arguments=args
                                                    if isinstance(args, dict) else {"raw": args}))
        else:
            found = [m for m in self.action_regex.finditer(content)]
            if len(found) == 1:
                command = found[0].group(1).strip()
                call_id = f"{at}.action"
                step.tool_calls.append(bash_call(call_id, command))
                pending.append((call_id, command))
                step.text, step.after = _split_around_action(content, self.action_regex)
            else:
                step.text = content.strip()
                step.parse_note = (f"{len(found)} command blocks in the reply; mini-swe-agent runs a "
                                   "reply only when it has exactly one, so nothing ran")
        return step, pending

    # -- observations -----------------------------------------------------------------------
    def _is_observation(self, role: str, msg: dict, extra: dict, content: str,
                        pending: list[tuple[str, str]]) -> bool:
        if not pending:
            return False
        if role == "tool":  # a result for one of the step's calls (an unknown id is a notice)
            call_id = msg.get("tool_call_id")
            return call_id is None or any(cid == call_id for cid, _ in pending)
        if "returncode" in extra or "raw_output" in extra:
            return True
        if extra.get("interrupt_type"):
            return False
        return bool(_RETURNCODE.search(content)) or content.startswith("Observation:")

    def _observation(self, step: ImportedStep, pending: list[tuple[str, str]], msg: dict, extra: dict,
                     content: str, at: str) -> None:
        call_id = msg.get("tool_call_id")
        if "raw_output" in extra:
            output, truncated = str(extra.get("raw_output") or ""), False
        else:
            output, truncated = _parse_rendered_output(content)
        code = extra.get("returncode")
        if not isinstance(code, int) or isinstance(code, bool):
            m = _RETURNCODE.search(content)
            code = int(m.group(1)) if m else None
        exception = extra.get("exception_info")
        if exception is None:
            m = _EXCEPTION.search(content)
            exception = m.group(1).strip() if m else None
        timed_out = bool(exception and "timed out" in str(exception).lower())
        self._observe(step, pending, output, code, at, call_id=call_id, truncated=truncated,
                      timed_out=timed_out, exception=exception or None,
                      ts=iso_from_unix(extra.get("timestamp")))

    def _observe(self, step: ImportedStep, pending: list[tuple[str, str]], output: str, code: int | None,
                 at: str, call_id: str | None = None, truncated: bool = False, timed_out: bool = False,
                 submission: bool = False, exception: Any = None, ts: str | None = None) -> None:
        index = next((n for n, (cid, _) in enumerate(pending) if cid == call_id), 0) if call_id else 0
        cid, _command = pending.pop(index)
        extra: dict[str, Any] = {}
        if submission:
            extra["submission"] = True
        if exception:
            extra["exception"] = str(exception)
        step.observations.append(Observation(tool_call_id=cid, tool="bash", output=output, exit_code=code,
                                             truncated=truncated, timed_out=timed_out, duration_ms=None, **extra,
                                             output_bytes=len(output.encode("utf-8", errors="replace"))))
        step.observations_at.append(at)


def _failed_reply(extra: dict) -> tuple[str, Usage] | None:
    """The model's reply kept in a FormatError message (`extra.response`, or `model_response`):
    a Chat Completions or a Responses object, or a plain string (mini's repr fallback)."""
    raw = extra.get("response", extra.get("model_response"))
    if raw is None:
        return None
    cost = extra.get("cost") if isinstance(extra.get("cost"), (int, float)) else None
    if isinstance(raw, str):
        return raw, Usage(cost_usd=cost)
    if not isinstance(raw, dict):
        return None
    parts: list[str] = []
    for choice in raw.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            parts.append(text_of(message.get("content")))
    for item in raw.get("output") or []:  # Responses API
        if isinstance(item, dict) and item.get("type") == "message":
            parts += [str(c.get("text") or "") for c in item.get("content") or [] if isinstance(c, dict)]
    usage = raw.get("usage") if isinstance(raw.get("usage"), dict) else {}
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens"))
    return "\n".join(p for p in parts if p).strip(), Usage(
        input_tokens=tokens_in if isinstance(tokens_in, int) else None,
        output_tokens=tokens_out if isinstance(tokens_out, int) else None, cost_usd=cost)


def _notice_kind(extra: dict, content: str) -> str:
    interrupt = extra.get("interrupt_type")
    if isinstance(interrupt, str) and interrupt:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", interrupt).lower()  # FormatError -> format_error
    if content.startswith("The last command") and "timed out" in content:
        return "timeout"
    if "EXACTLY ONE" in content or "triple backticks" in content:
        return "format_error"
    return "harness_message"


def _assistant_text(msg: dict) -> str:
    if msg.get("object") == "response":
        parts = []
        for item in msg.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "message":
                parts.append(text_of(item.get("content")))
        return "\n".join(parts)
    return text_of(msg.get("content"))


def _thinking(msg: dict) -> str | None:
    if isinstance(msg.get("reasoning_content"), str) and msg["reasoning_content"].strip():
        return msg["reasoning_content"]
    blocks = msg.get("thinking_blocks")
    if isinstance(blocks, list):
        texts = [b.get("thinking") for b in blocks if isinstance(b, dict) and isinstance(b.get("thinking"), str)]
        if texts:
            return "\n".join(texts)
    if msg.get("object") == "response":
        texts = []
        for item in msg.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "reasoning":
                texts += [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
        return "\n".join(t for t in texts if t) or None
    return None


def _native_tool_calls(msg: dict) -> list[tuple[str, str, Any]]:
    out = []
    for n, call in enumerate(msg.get("tool_calls") or []):
        if not isinstance(call, dict):
            continue
        fn = call.get("function") if isinstance(call.get("function"), dict) else {}
        args: Any = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                args = {"raw": args}
        out.append((str(call.get("id") or f"call_{n}"), str(fn.get("name") or "unknown"), args or {}))
    if msg.get("object") == "response":
        for item in msg.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "function_call":
                try:
                    args = json.loads(item.get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = {"raw": item.get("arguments")}
                out.append((str(item.get("call_id") or item.get("id")), str(item.get("name")), args))
    return out


def _usage(extra: dict) -> Usage:
    cost = extra.get("cost")
    response = extra.get("response") if isinstance(extra.get("response"), dict) else {}
    usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens"))
    return Usage(input_tokens=tokens_in if isinstance(tokens_in, int) else None,
                 output_tokens=tokens_out if isinstance(tokens_out, int) else None,
                 cost_usd=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None)


def _split_around_action(content: str, regex: re.Pattern[str]) -> tuple[str, str | None]:
    m = regex.search(content)
    if not m:
        return content.strip(), None
    before, after = content[: m.start()].strip(), content[m.end():].strip()
    return before, after or None


def _parse_rendered_output(content: str) -> tuple[str, bool]:
    """The command output inside an observation rendered by mini's shipped templates."""
    m = _OUTPUT.search(content)
    if m:
        return m.group(1), False
    head, tail = _HEAD.search(content), _TAIL.search(content)
    if head or tail:
        elided = _ELIDED.search(content)
        middle = f"\n[… {elided.group(1)} characters elided by mini-swe-agent …]\n" if elided else "\n[…]\n"
        return (head.group(1) if head else "") + middle + (tail.group(1) if tail else ""), True
    if content.startswith("Observation:"):
        return content[len("Observation:"):].strip(), False
    return content, False
