"""Claude Code session transcripts (`~/.claude/projects/<project>/<session-id>.jsonl`).

One JSON object a line. `type: "assistant"` lines carry `message` (the Messages API response: `id`,
`model`, `content` blocks `text` / `thinking` / `tool_use`, `usage`); Claude Code writes one content
block per line, so the lines of one API response share `message.id`. `type: "user"` lines carry
either the person's text or `tool_result` blocks (`tool_use_id`, `content`, `is_error`), with the
structured result in `toolUseResult` (Bash: `stdout`, `stderr`, `interrupted`). Every line has
`uuid`, `parentUuid`, `sessionId`, `timestamp`, `cwd`, `version`; sub-agent lines have
`isSidechain: true`. Other line types (`summary`, `system`, `file-history-snapshot`, `progress`,
`attachment`, …) are harness bookkeeping.

A failed Bash call comes back with `is_error: true` and content starting `Exit code N`; a successful
one carries no exit code, so 0 is inferred (and marked `exit_code_inferred`). A session records no
exit status: the outcome is `interrupted` when the user's last message is Claude Code's
`[Request interrupted by user…]` marker and `unknown` otherwise.

Sources: daaain/claude-code-log `claude_code_log/models.py` (transcript entry and tool models),
community descriptions of the transcript format (see docs/import.md).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, Source, bash_call, expect,
                                    json_objects, seconds_between, text_of)
from testbed.log import Observation, ToolCall, Usage

_EXIT_CODE = re.compile(r"^(?:Error: )?Exit code (\d+)")
INTERRUPTED = "[Request interrupted by user"
CONTINUED = "This session is being continued from a previous conversation"


class ClaudeCodeImporter:
    name = "claude-code"
    suffixes = (".jsonl",)

    def sniff(self, source: Source) -> str | None:
        if source.is_zip():
            return "it is a zip archive, not a JSON-lines session"
        seen = 0
        for n, text, _last in source.lines():
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                return None if seen else f"line {n} is not JSON ({exc.msg} at column {exc.colno})"
            seen += 1
            if not isinstance(obj, dict):
                return "lines are not JSON objects"
            if obj.get("type") in ("user", "assistant") and isinstance(obj.get("message"), dict) and (
                    "sessionId" in obj or "parentUuid" in obj):
                return None
            if seen >= 50:
                break
        return "no user/assistant lines with sessionId/parentUuid in the first lines"

    def episode_keys(self, source: Source) -> list[str] | None:
        return [""]

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        entries, notes = json_objects(source, "session")
        yield _Session(source, entries, notes).trajectory()


def _parent_file(path: Path, session: str | None) -> str | None:
    """The parent session's file beside a sub-agent's (`<session>/subagents/agent-*.jsonl`), if there."""
    if session and path.parent.name == "subagents" and path.parent.parent.name == session:
        parent = path.parent.parent.parent / f"{session}.jsonl"
        return str(parent.resolve()) if parent.is_file() else None
    return None


def _message_id(e: dict) -> str | None:
    msg = e.get("message")
    return msg.get("id") if e.get("type") == "assistant" and isinstance(msg, dict) and isinstance(msg.get("id"), str) else None


def _blocks(e: dict) -> list[dict]:
    msg = e.get("message")
    content = msg.get("content") if isinstance(msg, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


class _Session:
    def __init__(self, source: Source, entries: list[tuple[int, dict]], notes: list[str]):
        self.source, self.notes = source, notes
        talk = [(n, e) for n, e in entries if e.get("type") in ("user", "assistant")]
        # A sub-agent's own file (Claude Code 2.1: <session>/subagents/agent-<id>.jsonl) has only
        # sidechain lines: they are that agent's turns, imported as its own run. In a session's file
        # sidechain lines are another agent's turns and are left out.
        self.subagent = bool(talk) and all(e.get("isSidechain") for _n, e in talk)
        self.agent_id = next((e.get("agentId") for _n, e in talk if isinstance(e.get("agentId"), str)), None)
        side = [] if self.subagent else [x for x in talk if x[1].get("isSidechain")]
        if side:
            notes.append(f"{len(side)} sub-agent (sidechain) lines left out: they are another agent's turns")
        main = talk if self.subagent else [x for x in talk if not x[1].get("isSidechain")]
        self.other = entries
        self.entries = self._active_branch(main)

    def _active_branch(self, main: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
        """The conversation path that ends at the last line; branches left by a rewind drop out."""
        # Bookkeeping lines (system, progress, …) are links of the chain too.
        by_uuid = {e["uuid"]: e for _n, e in self.other
                   if isinstance(e.get("uuid"), str) and bool(e.get("isSidechain")) == self.subagent}
        if not main or not by_uuid:
            return main
        on_path: set[str] = set()
        cur = main[-1][1]
        while isinstance(cur, dict) and isinstance(cur.get("uuid"), str) and cur["uuid"] not in on_path:
            on_path.add(cur["uuid"])
            parent = cur.get("parentUuid") or cur.get("logicalParentUuid")
            cur = by_uuid.get(parent) if isinstance(parent, str) else None
        first = main[0][1]
        if first.get("uuid") not in on_path:
            return main  # the chain is broken (compaction, old versions): keep file order
        # Parallel tool calls hang off the path as side branches: the lines of one response are
        # chained one after another, but each tool's result names its own call's line as parent,
        # so only the last result is on the path. A line that continues a kept response (same
        # message.id) or answers a kept call (tool_use_id) belongs to the path's turns.
        kept_ids = {_message_id(e) for _n, e in main if e.get("uuid") in on_path} - {None}
        calls = {b.get("id") for _n, e in main if e.get("uuid") in on_path or _message_id(e) in kept_ids
                 for b in _blocks(e) if b.get("type") == "tool_use"}
        kept = []
        for n, e in main:
            answers = [b.get("tool_use_id") for b in _blocks(e) if b.get("type") == "tool_result"]
            if (e.get("uuid") in on_path or _message_id(e) in kept_ids
                    or (answers and all(a in calls for a in answers))):
                kept.append((n, e))
        side = len(kept) - sum(1 for _n, e in main if e.get("uuid") in on_path)
        if side:
            self.notes.append(f"{side} lines of parallel tool calls and their results kept from side branches")
        if len(kept) < len(main):
            self.notes.append(f"{len(main) - len(kept)} lines on abandoned branches (rewinds) left out")
        return kept

    def trajectory(self) -> ImportedTrajectory:
        steps: list[ImportedStep] = []
        notices: list[ImportedNotice] = []
        step_of_call: dict[str, ImportedStep] = {}
        by_message: dict[str, ImportedStep] = {}
        task: str | None = None
        model: str | None = None
        last_user_text = ""
        for line_no, e in self.entries:
            at = f"line {line_no}"
            msg = e.get("message")
            expect(isinstance(msg, dict), self.source, at, "a user/assistant line needs a 'message' object")
            ts = e.get("timestamp") if isinstance(e.get("timestamp"), str) else None
            if e["type"] == "assistant":
                if msg.get("model") == "<synthetic>":
                    notices.append(ImportedNotice(step=len(steps), kind="harness_message",
                                                  text=text_of(msg.get("content")), at=at, ts=ts))
                    continue
                model = model or msg.get("model")
                mid = msg.get("id") if isinstance(msg.get("id"), str) else f"line{line_no}"
                step = by_message.get(mid)
                if step is None:
                    step = ImportedStep(at=at, ts=ts)
                    step._parts = {"text": [], "after": [], "thinking": []}  # type: ignore[attr-defined]
                    by_message[mid] = step
                    steps.append(step)
                self._assistant_blocks(step, msg, at, step_of_call)
                continue
            content = msg.get("content")
            results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] \
                if isinstance(content, list) else []
            for block in results:
                self._result(block, e, at, step_of_call)
            text = text_of(content if not results else [b for b in content if b not in results])
            if not text.strip() or e.get("isMeta"):
                continue
            last_user_text = text
            if task is None and not steps:
                task = text
            elif text.startswith(INTERRUPTED):
                notices.append(ImportedNotice(step=len(steps), kind="interrupted", text=text, at=at, ts=ts))
            elif text.startswith(CONTINUED):
                notices.append(ImportedNotice(step=len(steps), kind="compaction", text=text, at=at, ts=ts))
            else:
                notices.append(ImportedNotice(step=len(steps), kind="user_message", text=text, at=at, ts=ts))
        for step in steps:
            parts = step.__dict__.pop("_parts")
            step.text = "\n\n".join(p for p in parts["text"] if p.strip()).strip()
            step.after = "\n\n".join(p for p in parts["after"] if p.strip()).strip() or None
            step.thinking = "\n\n".join(parts["thinking"]) or None
            missing = [c.id for c in step.tool_calls if c.id not in {o.tool_call_id for o in step.observations}]
            if missing:
                step.note = f"no tool result recorded for {', '.join(missing)}"

        outcome, reason = "unknown", "a Claude Code session records no exit status"
        if last_user_text.startswith(INTERRUPTED):
            outcome, reason = "interrupted", "the user interrupted the session (its last message)"
        stamps = [e.get("timestamp") for _n, e in self.entries if isinstance(e.get("timestamp"), str)]
        first = self.entries[0][1] if self.entries else {}
        session = next((e.get("sessionId") for _n, e in self.other if e.get("sessionId")), None)
        skipped: dict[str, int] = {}
        for _n, e in self.other:
            if e.get("type") not in ("user", "assistant"):
                skipped[str(e.get("type"))] = skipped.get(str(e.get("type")), 0) + 1
        name = str(session or Path(self.source.path.name).stem)
        link: dict = {}
        if self.subagent:
            name = f"{name}-agent-{self.agent_id or Path(self.source.path.name).stem}"
            link = {"subagent": {"agent_id": self.agent_id, "parent_session_id": session,
                                 "parent_file": _parent_file(self.source.path, session)}}
        return ImportedTrajectory(
            key="", name=name, model=str(model or "unknown"),
            task=task, steps=steps, notices=notices, outcome=outcome, reason=reason,
            source_exit_status=None, workspace=first.get("cwd") or None,
            started=stamps[0] if stamps else None,
            finished=stamps[-1] if stamps else None,
            wall_s=seconds_between(stamps[0], stamps[-1]) if stamps else None,
            skip=("a context-compaction sub-agent (agent-acompact-*): Claude Code summarising the session, "
                  "not an agent's turns") if self.subagent and str(self.agent_id or "").startswith("acompact") else None,
            metadata={"session_id": session, "cwd": first.get("cwd"), "git_branch": first.get("gitBranch"),
                      "claude_code_version": first.get("version"), "other_line_types": skipped, **link},
            notes=self.notes)

    def _assistant_blocks(self, step: ImportedStep, msg: dict, at: str,
                          step_of_call: dict[str, ImportedStep]) -> None:
        parts = step._parts  # type: ignore[attr-defined]
        content = msg.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": text_of(content)}]
        for n, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                (parts["after"] if step.tool_calls else parts["text"]).append(str(block.get("text") or ""))
            elif kind == "thinking":
                parts["thinking"].append(str(block.get("thinking") or ""))
            elif kind == "redacted_thinking":
                parts["thinking"].append("[redacted thinking]")
            elif kind == "tool_use":
                call_id = str(block.get("id") or f"{at}.content[{n}]")
                name = str(block.get("name") or "unknown")
                args = block.get("input") if isinstance(block.get("input"), dict) else {}
                if name == "Bash" and isinstance(args.get("command"), str):
                    rest = {k: v for k, v in args.items() if k != "command"}
                    call = bash_call(call_id, args["command"], **rest)
                else:
                    call = ToolCall(id=call_id, name=name, arguments=dict(args))
                step.tool_calls.append(call)
                step_of_call[call_id] = step
        usage = msg.get("usage")
        if isinstance(usage, dict):
            step.usage = Usage(input_tokens=usage.get("input_tokens") if isinstance(usage.get("input_tokens"), int) else None,
                               output_tokens=usage.get("output_tokens") if isinstance(usage.get("output_tokens"), int) else None)

    def _result(self, block: dict, entry: dict, at: str, step_of_call: dict[str, ImportedStep]) -> None:
        call_id = block.get("tool_use_id")
        step = step_of_call.get(call_id) if isinstance(call_id, str) else None
        if step is None:
            self.notes.append(f"{at}: a tool result for an unknown tool call {call_id!r} was left out")
            return
        call = next(c for c in step.tool_calls if c.id == call_id)
        output = text_of(block.get("content"))
        is_error = bool(block.get("is_error"))
        code: int | None = None
        inferred = False
        if call.name == "bash":
            m = _EXIT_CODE.match(output)
            if is_error and m:
                code = int(m.group(1))
            elif not is_error:
                code, inferred = 0, True
        extra: dict = {"is_error": is_error}
        if inferred:
            extra["exit_code_inferred"] = True
        structured = entry.get("toolUseResult")
        if isinstance(structured, dict) and structured.get("interrupted"):
            extra["interrupted"] = True
        if isinstance(structured, dict) and isinstance(structured.get("agentId"), str):
            extra["subagent_id"] = structured["agentId"]  # its turns: <session>/subagents/agent-<id>.jsonl
        step.observations.append(Observation(tool_call_id=call_id, tool=call.name, output=output,
                                             exit_code=code, duration_ms=None, **extra,
                                             output_bytes=len(output.encode("utf-8", errors="replace"))))
        step.observations_at.append(at)
