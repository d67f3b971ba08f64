"""Codex CLI sessions: the rollout files (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`) and the
event stream `codex exec --json` prints.

A rollout is one JSON object a line, `{"timestamp", "type", "payload"}`:
- `session_meta` (first): `id`, `cwd`, `cli_version`, `originator` (`codex_exec`, `codex_cli_rs`, …),
  `source` (`exec`, `cli`, `vscode`), `model_provider`, `git`;
- `turn_context`: the model and policies of a turn;
- `response_item`: what went to and came from the model, in the Responses API's own items —
  `message` (role `developer`/`user`/`assistant`), `reasoning` (`summary` texts; the content itself
  is encrypted), `function_call` (`name`, JSON `arguments`, `call_id`), `function_call_output`
  (`call_id`, `output`), `custom_tool_call` / `custom_tool_call_output` (freeform tools such as
  `apply_patch`), `local_shell_call`, `web_search_call`;
- `event_msg`: the harness's own events — `token_count` (per model response), `task_started`,
  `task_complete`, `turn_aborted`, `error`, `exec_command_end` (older versions: a command's
  `exit_code`, `duration`), `item_completed` (0.16x: a `CommandExecution` with `exit_code`,
  `duration`), and copies of the messages (`user_message`, `agent_message`, `agent_reasoning`);
- `compacted`, `token_usage_record`, `world_state`: bookkeeping.
Shell tools differ by version: `exec_command` `{"cmd"}` (unified exec, 0.5x and later; its output
starts with a header `Chunk ID / Wall time / Process exited with code N / Output:`) and `shell`
`{"command": [argv]}` (older; its output is a JSON string `{"output", "metadata": {"exit_code",
"duration_seconds"}}`).

One step is one model response: the items between two tool-output rounds (reasoning, messages,
calls). A session records no verdict: `codex exec` runs end with `task_complete` (the agent ended its
turn: `submitted`), a `turn_aborted` is `interrupted`, a turn that ends in an `error` event is
`error`; interactive sessions have no end state (`unknown`).

The `codex exec --json` stream (`thread.started`, `turn.started`, `item.started`/`item.completed`
with `agent_message`, `reasoning`, `command_execution` (`command`, `aggregated_output`,
`exit_code`), `file_change`, `mcp_tool_call`, `web_search`, `todo_list`, `error`; `turn.completed`
with `usage`; `turn.failed`) is read too: it has no times and no tool-call ids of its own.

Sources: files written by Codex CLI 0.163.0 itself (tests/data/import/make_codex_rollout.py);
openai/codex `codex-rs/protocol/src/models.rs` and `protocol.rs` as described in
kvsankar/agent-history docs/codex-format.md.
"""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, Source, bash_call, expect,
                                    json_objects, norm_iso, seconds_between, text_of)
from testbed.log import Observation, ToolCall, Usage

# Messages Codex writes into the conversation itself: instructions and context, not the person's words.
_CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "<skills_instructions>", "# AGENTS.md",
                     "<permissions instructions>", "<user_shell_command>", "<turn_aborted>", "<INSTRUCTIONS>",
                     "<collaboration_mode>", "<apps_instructions>")
_UNIFIED_EXIT = re.compile(r"^Process exited with code (-?\d+)\s*$", re.MULTILINE)
_UNIFIED_WALL = re.compile(r"^Wall time: ([\d.]+) seconds\s*$", re.MULTILINE)
_EXEC_KINDS = ("thread.started", "turn.started", "item.started", "item.completed", "turn.completed")


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _duration_ms(d: Any) -> float | None:
    if isinstance(d, dict) and isinstance(d.get("secs"), (int, float)):
        return round(d["secs"] * 1000 + (d.get("nanos") or 0) / 1e6, 3)
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return float(d) * 1000
    return None


def _argv_command(argv: Any) -> str | None:
    """A shell tool's argv as the command line it runs (`bash -lc X` is X)."""
    if isinstance(argv, str):
        return argv
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not argv:
        return None
    if len(argv) == 3 and Path(argv[0]).name in ("bash", "sh", "zsh") and argv[1] in ("-lc", "-c"):
        return argv[2]
    return shlex.join(argv)


def _unwrap(command: str) -> str:
    """`bash -lc 'X'` (how the exec stream shows a command) as X."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return command
    return _argv_command(argv) or command if len(argv) == 3 else command


def _tool_call(name: str, args: Any, call_id: str) -> ToolCall:
    """A Codex tool call in the project's terms: shell tools become `bash` with `command`."""
    if name == "exec_command" and isinstance(args, dict) and isinstance(args.get("cmd"), str):
        return bash_call(call_id, args["cmd"], **{k: v for k, v in args.items() if k != "cmd"})
    if name in ("shell", "container.exec", "local_shell") and isinstance(args, dict):
        command = _argv_command(args.get("command"))
        if command is not None:
            return bash_call(call_id, command, **{k: v for k, v in args.items() if k != "command"})
    if name == "shell_command" and isinstance(args, dict) and isinstance(args.get("command"), str):
        return bash_call(call_id, args["command"], **{k: v for k, v in args.items() if k != "command"})
    if isinstance(args, dict):
        return ToolCall(id=call_id, name=name, arguments=dict(args))
    return ToolCall(id=call_id, name=name, arguments={"input": args})


def _split_output(call: ToolCall | None, output: Any) -> tuple[str, int | None, float | None]:
    """(what the command printed, its exit code, its wall time in ms) from a tool output item."""
    if isinstance(output, dict):  # newer items may carry {content, success}
        text = text_of(output.get("content")) if "content" in output else json.dumps(output)
    else:
        text = str(output) if output is not None else ""
    code: int | None = None
    ms: float | None = None
    if text.startswith("{") and call is not None and call.name == "bash":
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("output"), str):  # the older `shell` tool
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            code = _int(meta.get("exit_code"))
            secs = meta.get("duration_seconds")
            ms = round(secs * 1000, 3) if isinstance(secs, (int, float)) else None
            return obj["output"], code, ms
    if "\nOutput:\n" in text or text.startswith("Chunk ID:"):  # unified exec's header
        head, _, body = text.partition("\nOutput:\n")
        m = _UNIFIED_EXIT.search(head)
        code = int(m.group(1)) if m else None
        w = _UNIFIED_WALL.search(head)
        ms = round(float(w.group(1)) * 1000, 3) if w else None
        return body, code, ms
    return text, code, ms


class CodexImporter:
    name = "codex"
    suffixes = (".jsonl",)

    def sniff(self, source: Source) -> str | None:
        if source.is_zip():
            return "it is a zip archive, not a JSON-lines session"
        for n, text, _last in source.lines():
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                return f"line {n} is not JSON ({exc.msg} at column {exc.colno})"
            if not isinstance(obj, dict):
                return "lines are not JSON objects"
            if obj.get("type") == "session_meta" and isinstance(obj.get("payload"), dict):
                return None
            if obj.get("type") == "thread.started" and "thread_id" in obj:
                return None
            return "the first line is neither a Codex session_meta nor a `codex exec --json` thread.started"
        return "the file is empty"

    def episode_keys(self, source: Source) -> list[str] | None:
        return [""]

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        entries, notes = json_objects(source, "session")
        expect(bool(entries), source, "line 1", "the file has no lines")
        if entries[0][1].get("type") == "thread.started":
            yield _exec_stream(source, entries, notes)
        else:
            yield _Rollout(source, entries, notes).trajectory()


class _Rollout:
    def __init__(self, source: Source, entries: list[tuple[int, dict]], notes: list[str]):
        self.source, self.entries, self.notes = source, entries, notes
        self.steps: list[ImportedStep] = []
        self.notices: list[ImportedNotice] = []
        self.calls: dict[str, tuple[ImportedStep, ToolCall]] = {}
        self.results: dict[str, dict[str, Any]] = {}  # call id -> exit code / duration from event_msg
        self.task: str | None = None
        self.model: str | None = None
        self.open: ImportedStep | None = None  # the step the model's current response adds to
        self.records: list[Any] = []  # token_usage_record usages, in order
        self.totals: list[dict] = []  # token_count running totals, in order
        # The lines that separate model responses (turn_context, token_count, token_usage_record)
        # are what tells parallel calls (one response: call, output, call, output in 0.4x) from
        # sequential ones; a file with none of them falls back to a tool output ending a response.
        self.outputs_end_responses = not any(
            e.get("type") in ("turn_context", "token_usage_record") or (
                e.get("type") == "event_msg" and isinstance(e.get("payload"), dict)
                and e["payload"].get("type") == "token_count")
            for _n, e in entries)

    def _step(self, at: str, ts: str | None) -> ImportedStep:
        if self.open is None:
            self.open = ImportedStep(at=at, ts=ts)
            self.open._parts = {"text": [], "after": [], "thinking": []}  # type: ignore[attr-defined]
            self.steps.append(self.open)
        return self.open

    def trajectory(self) -> ImportedTrajectory:
        meta: dict = {}
        end: tuple[str, str] | None = None  # (event type, detail) of the last turn's end
        skipped: dict[str, int] = {}
        for line_no, e in self.entries:
            at = f"line {line_no}"
            kind, p = e.get("type"), e.get("payload")
            ts = norm_iso(e.get("timestamp"))
            if not isinstance(p, dict):
                skipped[str(kind)] = skipped.get(str(kind), 0) + 1
                continue
            if kind == "session_meta":
                meta = meta or p
            elif kind == "turn_context":  # written before each model request by older versions
                self.model = self.model or (p.get("model") if isinstance(p.get("model"), str) else None)
                self.open = None
            elif kind == "response_item":
                self._item(p, at, ts)
            elif kind == "event_msg":
                end = self._event(p, at, ts) or end
            elif kind == "compacted":
                self.open = None
                self.notices.append(ImportedNotice(step=len(self.steps), kind="compaction",
                                                   text=str(p.get("message") or "the conversation was compacted"),
                                                   at=at, ts=ts))
            elif kind == "token_usage_record":  # 0.16x: after each model response's items
                self.records.append(p.get("usage"))
                self.open = None
            else:
                skipped[str(kind)] = skipped.get(str(kind), 0) + 1
        self._assign_usage()
        for step in self.steps:
            parts = step.__dict__.pop("_parts")
            step.text = "\n\n".join(p for p in parts["text"] if p.strip()).strip()
            step.after = "\n\n".join(p for p in parts["after"] if p.strip()).strip() or None
            step.thinking = "\n\n".join(p for p in parts["thinking"] if p.strip()) or None
            for obs in step.observations:
                extra = self.results.get(obs.tool_call_id) or {}
                if obs.exit_code is None and extra.get("exit_code") is not None:
                    obs.exit_code = extra["exit_code"]
                if extra.get("duration_ms") is not None:
                    obs.duration_ms = extra["duration_ms"]
            missing = [c.id for c in step.tool_calls if c.id not in {o.tool_call_id for o in step.observations}]
            if missing:
                step.note = f"no tool output recorded for {', '.join(missing)}"

        interactive = str(meta.get("source") or "") not in ("exec", "") or str(meta.get("originator")) == "codex_cli_rs"
        if end is None:
            outcome, reason = "unknown", "the session records no end of its last turn (it may have been cut off)"
        elif end[0] == "turn_aborted":
            outcome, reason = "interrupted", f"the turn was aborted ({end[1] or 'no reason given'})"
        elif end[0] == "error":
            outcome, reason = "error", f"the last turn ended in an error: {end[1]}"
        elif interactive:
            outcome, reason = "unknown", "an interactive Codex session records no exit status (its last turn ended)"
        else:
            outcome, reason = "submitted", "codex exec: the agent ended its turn (task_complete); nothing verified it"
        stamps = [norm_iso(e.get("timestamp")) for _n, e in self.entries]
        stamps = [s for s in stamps if s]
        session = meta.get("id") or meta.get("session_id")
        return ImportedTrajectory(
            key="", name=str(session or self.source.path.stem), model=str(self.model or "unknown"),
            task=self.task, steps=self.steps, notices=self.notices, outcome=outcome, reason=reason,
            source_exit_status=end[0] if end else None, workspace=meta.get("cwd") or None,
            started=stamps[0] if stamps else None, finished=stamps[-1] if stamps else None,
            wall_s=seconds_between(stamps[0], stamps[-1]) if stamps else None,
            metadata={"layout": "rollout", "session_id": session, "cli_version": meta.get("cli_version"),
                      "originator": meta.get("originator"), "source": meta.get("source"),
                      "model_provider": meta.get("model_provider"), "cwd": meta.get("cwd"),
                      "git": meta.get("git"), "other_line_types": skipped},
            notes=self.notes)

    def _item(self, p: dict, at: str, ts: str | None) -> None:
        kind = p.get("type")
        if kind == "message":
            role = p.get("role")
            text = text_of(p.get("content"))
            if role == "assistant":
                step = self._step(at, ts)
                parts = step._parts  # type: ignore[attr-defined]
                (parts["after"] if step.tool_calls else parts["text"]).append(text)
            elif role == "user":
                self.open = None
                if not text.strip() or text.lstrip().startswith(_CONTEXT_PREFIXES):
                    return
                if self.task is None and not self.steps:
                    self.task = text
                else:
                    self.notices.append(ImportedNotice(step=len(self.steps), kind="user_message", text=text,
                                                       at=at, ts=ts))
            return  # developer/system messages: Codex's instructions
        if kind == "reasoning":
            summary = p.get("summary") if isinstance(p.get("summary"), list) else []
            texts = [str(s.get("text") or "") for s in summary if isinstance(s, dict)]
            content = p.get("content") if isinstance(p.get("content"), list) else []
            texts += [str(c.get("text") or "") for c in content if isinstance(c, dict)]
            step = self._step(at, ts)
            step._parts["thinking"] += texts  # type: ignore[attr-defined]
            return
        if kind in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
            step = self._step(at, ts)
            call_id = str(p.get("call_id") or p.get("id") or at)
            if kind == "function_call":
                raw = p.get("arguments")
                try:
                    args = json.loads(raw) if isinstance(raw, str) else raw
                except ValueError:
                    args = {"arguments": raw}
                    self.notes.append(f"{at}: the arguments of {p.get('name')!r} are not JSON; kept as text")
                call = _tool_call(str(p.get("name") or "unknown"), args, call_id)
            elif kind == "custom_tool_call":
                call = ToolCall(id=call_id, name=str(p.get("name") or "unknown"), arguments={"input": p.get("input")})
            elif kind == "local_shell_call":
                action = p.get("action") if isinstance(p.get("action"), dict) else {}
                call = _tool_call("local_shell", action, call_id)
            else:
                call = ToolCall(id=call_id, name="web_search", arguments=dict(p.get("action") or {}))
            step.tool_calls.append(call)
            self.calls[call_id] = (step, call)
            return
        if kind in ("function_call_output", "custom_tool_call_output"):
            call_id = str(p.get("call_id") or "")
            found = self.calls.get(call_id)
            if found is None:
                self.notes.append(f"{at}: an output for an unknown tool call {call_id!r} was left out")
                return
            step, call = found
            output, code, ms = _split_output(call, p.get("output"))
            step.observations.append(Observation(tool_call_id=call_id, tool=call.name, output=output,
                                                 exit_code=code, duration_ms=ms,
                                                 output_bytes=len(output.encode("utf-8", errors="replace"))))
            step.observations_at.append(at)
            if self.outputs_end_responses:
                self.open = None
            return
        self.notes.append(f"{at}: a response item of type {kind!r} was left out")

    def _assign_usage(self) -> None:
        """Token counts per model response, given to the steps in order: 0.16x writes each
        response's own (`token_usage_record`); older versions only running totals (`token_count`,
        some repeated), whose differences are the responses'."""
        per_response: list[dict] = [u for u in self.records if isinstance(u, dict)]
        if not per_response:
            previous: tuple[int, int] | None = None
            for total in self.totals:
                key = (_int(total.get("input_tokens")) or 0, _int(total.get("output_tokens")) or 0)
                if key == previous:
                    continue
                before = previous or (0, 0)
                per_response.append({"input_tokens": key[0] - before[0], "output_tokens": key[1] - before[1]})
                previous = key
        if per_response and len(per_response) != len(self.steps):
            self.notes.append(f"{len(per_response)} token counts for {len(self.steps)} model responses: "
                              "given to the first steps in order")
        for step, usage in zip(self.steps, per_response):
            step.usage = Usage(input_tokens=_int(usage.get("input_tokens")), output_tokens=_int(usage.get("output_tokens")))

    def _event(self, p: dict, at: str, ts: str | None) -> tuple[str, str] | None:
        kind = p.get("type")
        if kind == "token_count":
            info = p.get("info") if isinstance(p.get("info"), dict) else {}
            if isinstance(info.get("total_token_usage"), dict):
                self.totals.append(info["total_token_usage"])
                self.open = None  # written between model responses
        elif kind == "exec_command_end":
            self.results[str(p.get("call_id"))] = {"exit_code": _int(p.get("exit_code")),
                                                   "duration_ms": _duration_ms(p.get("duration"))}
        elif kind == "item_completed" and isinstance(p.get("item"), dict) \
                and p["item"].get("type") == "CommandExecution":
            item = p["item"]
            self.results[str(item.get("id"))] = {"exit_code": _int(item.get("exit_code")),
                                                 "duration_ms": _duration_ms(item.get("duration"))}
        elif kind == "task_complete":
            return ("task_complete", "")
        elif kind == "turn_aborted":
            self.notices.append(ImportedNotice(step=len(self.steps), kind="interrupted",
                                               text=f"turn aborted: {p.get('reason') or ''}".strip(), at=at, ts=ts))
            return ("turn_aborted", str(p.get("reason") or ""))
        elif kind == "error":
            message = str(p.get("message") or "")
            self.notices.append(ImportedNotice(step=len(self.steps), kind="harness_message", text=message,
                                               at=at, ts=ts))
            return ("error", message)
        elif kind == "task_started":
            self.open = None
        return None


def _exec_stream(source: Source, entries: list[tuple[int, dict]], notes: list[str]) -> ImportedTrajectory:
    """`codex exec --json`: items in order; a step is an agent message or reasoning and the
    commands that follow it, up to the next message."""
    steps: list[ImportedStep] = []
    notices: list[ImportedNotice] = []
    thread: str | None = None
    end: tuple[str, str] | None = None
    current: ImportedStep | None = None
    for line_no, e in entries:
        at = f"line {line_no}"
        kind = e.get("type")
        if kind == "thread.started":
            thread = thread or e.get("thread_id")
        elif kind == "turn.completed":
            end = ("turn.completed", "")
            usage = e.get("usage") if isinstance(e.get("usage"), dict) else {}
            notes.append(f"token counts are per turn in this stream ({usage.get('input_tokens')} in, "
                         f"{usage.get('output_tokens')} out), not per step")
        elif kind == "turn.failed":
            err = e.get("error") if isinstance(e.get("error"), dict) else {}
            end = ("turn.failed", str(err.get("message") or ""))
        elif kind == "error":
            notices.append(ImportedNotice(step=len(steps), kind="harness_message", text=str(e.get("message") or ""),
                                          at=at))
        elif kind == "item.completed" and isinstance(e.get("item"), dict):
            item = e["item"]
            itype = item.get("type")
            if itype in ("agent_message", "reasoning"):
                if current is None or current.tool_calls or (itype == "agent_message" and current.text):
                    current = ImportedStep(at=at)
                    steps.append(current)
                if itype == "agent_message":
                    current.text = "\n\n".join(x for x in (current.text, str(item.get("text") or "")) if x)
                else:
                    current.thinking = "\n\n".join(x for x in (current.thinking or "", str(item.get("text") or "")) if x)
            elif itype in ("command_execution", "file_change", "mcp_tool_call", "web_search", "todo_list"):
                if current is None:
                    current = ImportedStep(at=at)
                    steps.append(current)
                call_id = str(item.get("id") or at)
                if itype == "command_execution":
                    call = bash_call(call_id, _unwrap(_argv_command(item.get("command")) or ""))
                    output = str(item.get("aggregated_output") or "")
                    current.tool_calls.append(call)
                    current.observations.append(Observation(
                        tool_call_id=call_id, tool="bash", output=output, exit_code=_int(item.get("exit_code")),
                        duration_ms=None, output_bytes=len(output.encode("utf-8", errors="replace"))))
                    current.observations_at.append(at)
                else:
                    args = {k: v for k, v in item.items() if k not in ("id", "type")}
                    current.tool_calls.append(ToolCall(id=call_id, name=str(itype), arguments=args))
            elif itype == "error":
                notices.append(ImportedNotice(step=len(steps), kind="harness_message",
                                              text=str(item.get("message") or ""), at=at))
    if end is None:
        outcome, reason = "unknown", "the stream has no turn.completed (it may have been cut off)"
    elif end[0] == "turn.failed":
        outcome, reason = "error", f"the turn failed: {end[1]}"
    else:
        outcome, reason = "submitted", "codex exec: the agent ended its turn (turn.completed); nothing verified it"
    notes.append("a `codex exec --json` stream records no times, no task text and no model; "
                 "the rollout file of the same session has all three")
    return ImportedTrajectory(key="", name=str(thread or source.path.stem), steps=steps, notices=notices,
                              outcome=outcome, reason=reason, source_exit_status=end[0] if end else None,
                              metadata={"layout": "exec-json", "thread_id": thread}, notes=notes)
