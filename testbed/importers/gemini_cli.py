"""Gemini CLI chat recordings (`~/.gemini/tmp/<project-hash>/chats/session-<time>-<id>.json`).

One JSON object a session: `sessionId`, `projectHash`, `startTime`, `lastUpdated`, `summary`
(optional) and `messages`, each `{id, timestamp, type, content}` with `type` one of `user`, `gemini`
(the model: also `thoughts` [{subject, description, timestamp}], `tokens` {input, output, cached,
thoughts, tool, total}, `model`, `toolCalls`), `info`, `warning`, `error` (the CLI's own lines).
A tool call is `{id, name, args, result, status, timestamp, resultDisplay, displayName}`:
`status` is `success`, `error` or `cancelled`; `result` holds the Gemini API's
`functionResponse` parts, whose `response.output` (or `.error`) is what the model saw. The shell
tool (`run_shell_command`) reports `Exit Code: N` in that output. Edits are `replace`
(`file_path`, `old_string`, `new_string`) and `write_file` (`file_path`, `content`).

Each `gemini` message is one step. A session records no exit status (interactive: `unknown`).

Source: real Gemini CLI sessions of November 2025 – January 2026 (tests/data/import/gemini-cli/,
provenance in its README); google-gemini/gemini-cli docs (chat recording).
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, Source, bash_call,
                                    expect, norm_iso, seconds_between, text_of)
from testbed.log import Observation, ToolCall, Usage

_EXIT = re.compile(r"^Exit Code: (-?\d+)\s*$", re.MULTILINE)
_SHELL_OUTPUT = re.compile(r"^Output: ?", re.MULTILINE)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _result_text(result: Any) -> str:
    """What the model saw of a tool's result (the functionResponse parts' output or error)."""
    if isinstance(result, str):
        return result
    parts = result if isinstance(result, list) else [result] if isinstance(result, dict) else []
    out: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        fr = part.get("functionResponse")
        if isinstance(fr, dict):
            resp = fr.get("response")
            if isinstance(resp, dict):
                for key in ("output", "error", "content", "result"):
                    if resp.get(key) is not None:
                        out.append(text_of(resp[key]) if not isinstance(resp[key], (dict, int, float)) else str(resp[key]))
                        break
            elif resp is not None:
                out.append(str(resp))
        elif isinstance(part.get("text"), str):
            out.append(part["text"])
    return "\n".join(out)


class GeminiCliImporter:
    name = "gemini-cli"
    suffixes = (".json",)

    def sniff(self, source: Source) -> str | None:
        obj = source.json_or_none()
        if isinstance(obj, dict) and "sessionId" in obj and isinstance(obj.get("messages"), list) \
                and ("projectHash" in obj or "startTime" in obj):
            return None
        return "not a Gemini CLI chat recording (no 'sessionId' with 'messages' and 'projectHash')"

    def episode_keys(self, source: Source) -> list[str] | None:
        return [""]

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        obj = source.json()
        expect(isinstance(obj, dict), source, "$", "a Gemini CLI session is a JSON object")
        expect(isinstance(obj.get("messages"), list), source, "messages", "'messages' must be a list")
        steps: list[ImportedStep] = []
        notices: list[ImportedNotice] = []
        notes: list[str] = []
        task: str | None = None
        model: str | None = None
        last_user = ""
        for i, m in enumerate(obj["messages"]):
            at = f"messages[{i}]"
            expect(isinstance(m, dict), source, at, "a message must be an object")
            kind = m.get("type")
            ts = norm_iso(m.get("timestamp"))
            text = text_of(m.get("content"))
            if kind == "user":
                last_user = text
                if task is None and not steps:
                    task = text
                else:
                    notices.append(ImportedNotice(step=len(steps), kind="user_message", text=text, at=at, ts=ts))
            elif kind == "gemini":
                model = model or (m.get("model") if isinstance(m.get("model"), str) else None)
                steps.append(self._step(m, at, ts, text, notes))
            elif kind in ("info", "warning", "error"):
                notices.append(ImportedNotice(step=len(steps), kind="harness_message",
                                              text=f"[{kind}] {text}", at=at, ts=ts))
            else:
                notes.append(f"{at}: a message of type {kind!r} was left out")
        start, end = norm_iso(obj.get("startTime")), norm_iso(obj.get("lastUpdated"))
        outcome, reason = "unknown", "a Gemini CLI session records no exit status"
        if last_user.strip() in ("/quit", "/exit"):
            reason += f" (the person typed {last_user.strip()})"
        yield ImportedTrajectory(
            key="", name=str(obj.get("sessionId") or source.path.stem), model=str(model or "unknown"),
            task=task, steps=steps, notices=notices, outcome=outcome, reason=reason, source_exit_status=None,
            started=start, finished=end, wall_s=seconds_between(start, end),
            metadata={"session_id": obj.get("sessionId"), "project_hash": obj.get("projectHash"),
                      "summary": obj.get("summary"),
                      "other_keys": sorted(k for k in obj if k not in (
                          "sessionId", "projectHash", "startTime", "lastUpdated", "messages", "summary"))},
            notes=notes)

    def _step(self, m: dict, at: str, ts: str | None, text: str, notes: list[str]) -> ImportedStep:
        thoughts = m.get("thoughts") if isinstance(m.get("thoughts"), list) else []
        thinking = "\n\n".join(
            f"{t.get('subject')}: {t.get('description')}" if t.get("subject") else str(t.get("description") or "")
            for t in thoughts if isinstance(t, dict)) or None
        tokens = m.get("tokens") if isinstance(m.get("tokens"), dict) else {}
        step = ImportedStep(text=text.strip(), thinking=thinking, at=at, ts=ts,
                            usage=Usage(input_tokens=_int(tokens.get("input")), output_tokens=_int(tokens.get("output"))))
        calls = m.get("toolCalls") if isinstance(m.get("toolCalls"), list) else []
        for j, c in enumerate(calls):
            if not isinstance(c, dict):
                continue
            call_id = str(c.get("id") or f"{at}.toolCalls[{j}]")
            name = str(c.get("name") or "unknown")
            args = c.get("args") if isinstance(c.get("args"), dict) else {}
            if name == "run_shell_command" and isinstance(args.get("command"), str):
                call = bash_call(call_id, args["command"], **{k: v for k, v in args.items() if k != "command"})
            else:
                call = ToolCall(id=call_id, name=name, arguments=dict(args))
            step.tool_calls.append(call)
            status = c.get("status")
            output = _result_text(c.get("result"))
            code: int | None = None
            extra: dict[str, Any] = {"status": status}
            if call.name == "bash":
                found = _EXIT.findall(output)
                code = int(found[-1]) if found else None
                if code is None and status == "success" and "Exit Code: (none)" not in output:
                    code, extra["exit_code_inferred"] = 0, True
            if status == "cancelled" and not output:
                output = "(the tool call was cancelled)"
            step.observations.append(Observation(tool_call_id=call_id, tool=call.name, output=output,
                                                 exit_code=code, duration_ms=None, is_error=status == "error",
                                                 output_bytes=len(output.encode("utf-8", errors="replace")),
                                                 **extra))
            step.observations_at.append(f"{at}.toolCalls[{j}]")
        return step
