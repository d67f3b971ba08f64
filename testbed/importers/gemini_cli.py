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

Since 2026 Gemini CLI writes the same records as JSON lines (`session-*.jsonl`): a header
(`sessionId`, `projectHash`, `startTime`, `kind: main|subagent`), then message records appended as
they change (a record repeating an id replaces the earlier one), `{"$rewindTo": id}` and
`{"$set": {...}}` records; sub-agents' sessions sit in `chats/<parent session id>/<id>.jsonl`. The
file is replayed the way the CLI's `loadConversationRecord` replays it. `/chat save <tag>` writes
`checkpoint-<tag>.json`: `{"history": [Content…], "authType"}` (a bare list of `Content` before).

Sources: google-gemini/gemini-cli `packages/core/src/services/chatRecordingService.ts`
(`loadConversationRecord`, the writer), `chatRecordingTypes.ts`, `packages/core/src/core/logger.ts`
(`saveCheckpoint`, `loadCheckpoint`), at commit 5411f113 (2026-08-21).

Source: real Gemini CLI sessions of November 2025 – January 2026 (tests/data/import/gemini-cli/,
provenance in its README); google-gemini/gemini-cli docs (chat recording).
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, Source, bash_call,
                                    expect, json_objects, norm_iso, seconds_between, text_of)
from testbed.log import Observation, ToolCall, Usage

_EXIT = re.compile(r"^Exit Code: (-?\d+)\s*$", re.MULTILINE)
_SHELL_OUTPUT = re.compile(r"^Output: ?", re.MULTILINE)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _call(call_id: str, name: str, args: dict) -> ToolCall:
    """A Gemini CLI tool call in the project's terms: the shell tool becomes `bash`."""
    if name == "run_shell_command" and isinstance(args.get("command"), str):
        return bash_call(call_id, args["command"], **{k: v for k, v in args.items() if k != "command"})
    return ToolCall(id=call_id, name=name, arguments=dict(args))


def _our_name(name: Any) -> Any:
    return "bash" if name == "run_shell_command" else name


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


def _is_content_list(obj: Any) -> bool:
    """A list of Gemini API `Content` objects ({role: user|model, parts: [...]})."""
    return isinstance(obj, list) and bool(obj) and all(
        isinstance(c, dict) and c.get("role") in ("user", "model") and isinstance(c.get("parts"), list)
        for c in obj[:5])


def _replay_jsonl(source: Source) -> tuple[dict, list[tuple[str, dict]], list[str]]:
    """The session a JSON-lines recording describes, replayed as Gemini CLI's own
    `loadConversationRecord` does: a header record (sessionId, projectHash, …), message records
    (a later record with the same id replaces the earlier one in its place), `{"$rewindTo": id}`
    (drops that message and everything after it), `{"$set": {...}}` (metadata; with `messages`, the
    whole list is replaced)."""
    entries, notes = json_objects(source, "session")
    meta: dict = {}
    messages: dict[str, tuple[str, dict]] = {}
    rewinds = 0
    for n, rec in entries:
        at = f"line {n}"
        if isinstance(rec.get("$rewindTo"), str):
            ids = list(messages)
            if rec["$rewindTo"] in messages:
                for mid in ids[ids.index(rec["$rewindTo"]):]:
                    del messages[mid]
            else:
                messages.clear()
            rewinds += 1
        elif isinstance(rec.get("id"), str):
            messages[rec["id"]] = (messages[rec["id"]][0] if rec["id"] in messages else at, rec)
        elif isinstance(rec.get("$set"), dict):
            update = rec["$set"]
            if isinstance(update.get("messages"), list):
                messages = {m["id"]: (at, m) for m in update["messages"] if isinstance(m, dict) and isinstance(m.get("id"), str)}
            meta.update({k: v for k, v in update.items() if k != "messages"})
        elif isinstance(rec.get("sessionId"), str):
            meta.update({k: v for k, v in rec.items() if k != "messages"})
            for m in rec.get("messages") or []:
                if isinstance(m, dict) and isinstance(m.get("id"), str):
                    messages[m["id"]] = (at, m)
    if rewinds:
        notes.append(f"{rewinds} rewinds ($rewindTo): the messages they dropped are left out, as Gemini CLI does")
    return meta, list(messages.values()), notes


class GeminiCliImporter:
    name = "gemini-cli"
    suffixes = (".json", ".jsonl")

    def sniff(self, source: Source) -> str | None:
        if source.path.suffix == ".jsonl":
            for _n, text, _last in source.lines():
                try:
                    first = json.loads(text)
                except json.JSONDecodeError:
                    return "the first line is not JSON"
                return None if isinstance(first, dict) and isinstance(first.get("sessionId"), str) \
                    and isinstance(first.get("projectHash"), str) else \
                    "the first line is not a Gemini CLI session header (sessionId, projectHash)"
            return "the file is empty"
        obj = source.json_or_none()
        if isinstance(obj, dict) and "sessionId" in obj and isinstance(obj.get("messages"), list) \
                and ("projectHash" in obj or "startTime" in obj):
            return None
        if source.path.name.startswith("checkpoint-") and (
                _is_content_list(obj) or (isinstance(obj, dict) and _is_content_list(obj.get("history")))):
            return None
        return "not a Gemini CLI chat recording (no 'sessionId' with 'messages' and 'projectHash') or checkpoint"

    def episode_keys(self, source: Source) -> list[str] | None:
        return [""]

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        if source.path.suffix == ".jsonl":
            meta, messages, notes = _replay_jsonl(source)
            expect(bool(meta.get("sessionId")), source, "line 1", "no session header (sessionId, projectHash)")
            yield self._session(source, meta, messages, notes, layout="jsonl")
            return
        obj = source.json()
        if isinstance(obj, list) or (isinstance(obj, dict) and "history" in obj and "messages" not in obj):
            yield self._checkpoint(source, obj)
            return
        expect(isinstance(obj, dict), source, "$", "a Gemini CLI session is a JSON object")
        expect(isinstance(obj.get("messages"), list), source, "messages", "'messages' must be a list")
        messages = [(f"messages[{i}]", m) for i, m in enumerate(obj["messages"])]
        yield self._session(source, obj, messages, [], layout="json")

    def _session(self, source: Source, obj: dict, messages: list[tuple[str, Any]], notes: list[str],
                 layout: str) -> ImportedTrajectory:
        steps: list[ImportedStep] = []
        notices: list[ImportedNotice] = []
        task: str | None = None
        model: str | None = None
        last_user = ""
        for at, m in messages:
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
        link: dict = {}
        if obj.get("kind") == "subagent":  # chats/<parent session id>/<id>.jsonl
            link = {"subagent": {"parent_session_id": source.path.parent.name,
                                 "parent_dir": str(source.path.parent.parent.resolve())}}
        return ImportedTrajectory(
            key="", name=str(obj.get("sessionId") or source.path.stem), model=str(model or "unknown"),
            task=task, steps=steps, notices=notices, outcome=outcome, reason=reason, source_exit_status=None,
            started=start, finished=end, wall_s=seconds_between(start, end),
            metadata={"layout": layout, "session_id": obj.get("sessionId"), "project_hash": obj.get("projectHash"),
                      "summary": obj.get("summary"), "kind": obj.get("kind"), **link,
                      "other_keys": sorted(k for k in obj if k not in (
                          "sessionId", "projectHash", "startTime", "lastUpdated", "messages", "summary", "kind"))},
            notes=notes)

    def _checkpoint(self, source: Source, obj: Any) -> ImportedTrajectory:
        """`/chat save <tag>`: the model's history as Gemini API `Content` objects. Model turns are
        steps (text, thought parts, functionCall parts); the functionResponse parts of the user turn
        after them are their results (by id, else in order by name)."""
        history = obj if isinstance(obj, list) else obj.get("history")
        expect(isinstance(history, list), source, "history", "a checkpoint's 'history' must be a list")
        base = "" if isinstance(obj, list) else "history"
        steps: list[ImportedStep] = []
        notices: list[ImportedNotice] = []
        task: str | None = None
        for i, content in enumerate(history):
            at = f"{base}[{i}]"
            expect(isinstance(content, dict) and isinstance(content.get("parts"), list), source, at,
                   "a history entry must be a Content object with 'parts'")
            parts = [x for x in content["parts"] if isinstance(x, dict)]
            if content.get("role") == "model":
                step = ImportedStep(at=at)
                texts, thoughts = [], []
                for k, part in enumerate(parts):
                    if isinstance(part.get("text"), str):
                        (thoughts if part.get("thought") else texts).append(part["text"])
                    elif isinstance(part.get("functionCall"), dict):
                        fc = part["functionCall"]
                        name = str(fc.get("name") or "unknown")
                        args = fc.get("args") if isinstance(fc.get("args"), dict) else {}
                        call_id = str(fc.get("id") or f"{at}.parts[{k}]")
                        step.tool_calls.append(_call(call_id, name, args))
                step.text = "\n".join(t for t in texts if t.strip()).strip()
                step.thinking = "\n\n".join(thoughts) or None
                steps.append(step)
                continue
            responses = [(k, x["functionResponse"]) for k, x in enumerate(parts) if isinstance(x.get("functionResponse"), dict)]
            if responses and steps:
                step = steps[-1]
                open_calls = list(step.tool_calls)
                for k, fr in responses:
                    call = next((c for c in open_calls if fr.get("id") and c.id == fr.get("id")), None) or next(
                        (c for c in open_calls if c.name == _our_name(fr.get("name"))), None)
                    if call is None:
                        step.note = f"{at}.parts[{k}]: a function response for no call of the turn before"
                        continue
                    open_calls.remove(call)
                    output = _result_text([{"functionResponse": fr}])
                    found = _EXIT.findall(output) if call.name == "bash" else []
                    step.observations.append(Observation(
                        tool_call_id=call.id, tool=call.name, output=output, duration_ms=None,
                        exit_code=int(found[-1]) if found else None,
                        output_bytes=len(output.encode("utf-8", errors="replace"))))
                    step.observations_at.append(f"{at}.parts[{k}]")
                continue
            text = "\n".join(str(x["text"]) for x in parts if isinstance(x.get("text"), str))
            if task is None and not steps:
                task = text
            elif text.strip():
                notices.append(ImportedNotice(step=len(steps), kind="user_message", text=text, at=at))
        return ImportedTrajectory(
            key="", name=source.path.stem, task=task, steps=steps, notices=notices, outcome="unknown",
            reason="a Gemini CLI checkpoint is a saved conversation: no end state, no times, no model",
            metadata={"layout": "checkpoint", "tag": source.path.stem[len("checkpoint-"):],
                      "auth_type": obj.get("authType") if isinstance(obj, dict) else None},
            notes=["a checkpoint keeps the API history only: no times, token counts, tool status or model"])

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
            call = _call(call_id, name, args)
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
