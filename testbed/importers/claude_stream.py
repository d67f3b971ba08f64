"""What Claude Code prints with `claude -p … --output-format stream-json --verbose`.

One JSON object a line: a `system` line with `subtype: "init"` (`cwd`, `session_id`, `model`,
`tools`, `permissionMode`, `claude_code_version`), then the conversation as the session file has it
— `assistant` lines (`message`: one content block a line, the lines of one API response sharing
`message.id`) and `user` lines (`tool_result` blocks, with the structured result in
`tool_use_result`) — each with `session_id`, `uuid` and `parent_tool_use_id` (non-null on the lines
of a sub-agent started by that Task/Agent tool call), and a last `result` line: `subtype`
(`success`, `error_max_turns`, `error_max_budget_usd`, `error_during_execution`), `is_error`,
`num_turns`, `duration_ms`, `total_cost_usd`, `usage`, `result` (the final text). Other `system`
lines (`thinking_tokens`, hooks, `compact_boundary`) and `stream_event` lines (with
`--include-partial-messages`) are bookkeeping.

The conversation is read as a session transcript is (testbed/importers/claude_code.py); the stream
adds the end state the session file lacks. Lines of sub-agents become runs of their own, one per
Task call, linked to the parent. The prompt itself is not in the stream (unless
`--replay-user-messages`): the task is then unknown.

Source: files written by Claude Code 2.1.332 itself (tests/data/import/make_claude_stream_json.py).
"""
from __future__ import annotations

import json
from typing import Iterator

from testbed.importers.base import ImportedNotice, ImportedTrajectory, Source, json_objects
from testbed.importers.claude_code import _Session

_OUTCOMES = {"success": "submitted", "error_max_turns": "budget_exhausted",
             "error_max_budget_usd": "budget_exhausted", "error_during_execution": "error"}


class ClaudeStreamImporter:
    name = "claude-code-stream"
    suffixes = (".jsonl", ".ndjson")

    def sniff(self, source: Source) -> str | None:
        if source.is_zip():
            return "it is a zip archive, not a JSON-lines stream"
        for n, text, _last in source.lines():
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                return f"line {n} is not JSON ({exc.msg} at column {exc.colno})"
            if isinstance(obj, dict) and obj.get("type") == "system" and obj.get("subtype") == "init" \
                    and "session_id" in obj:
                return None
            return "the first line is not Claude Code's stream-json `system`/`init` line"
        return "the file is empty"

    def episode_keys(self, source: Source) -> list[str] | None:
        return None  # one run per sub-agent too: known only after reading

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        entries, notes = json_objects(source, "stream")
        init = next((e for _n, e in entries if e.get("type") == "system" and e.get("subtype") == "init"), {})
        result = next((e for _n, e in reversed(entries) if e.get("type") == "result"), None)
        session_id = init.get("session_id")
        # The session importer's vocabulary: a sub-agent's lines are its sidechain.
        groups: dict[str | None, list[tuple[int, dict]]] = {None: []}
        for n, e in entries:
            if e.get("type") not in ("user", "assistant"):
                continue
            parent = e.get("parent_tool_use_id") if isinstance(e.get("parent_tool_use_id"), str) else None
            groups.setdefault(parent, []).append((n, _as_session_line(e, parent, init)))
        main = _Session(source, groups[None], list(notes)).trajectory()
        main.name = str(session_id or source.path.stem)
        main.model = str(init.get("model") or main.model)
        main.metadata.update(layout="stream-json", claude_code_version=init.get("claude_code_version"),
                             permission_mode=init.get("permissionMode"), tools=init.get("tools"),
                             other_line_types=_other(entries))
        if main.task is None:
            main.notes.append("the prompt is not in the stream (run with --replay-user-messages to keep it)")
        if result is None:
            main.outcome, main.reason = "unknown", "the stream has no `result` line (it was cut off)"
        else:
            sub = str(result.get("subtype"))
            main.outcome = _OUTCOMES.get(sub, "error" if result.get("is_error") else "unknown")
            main.reason = (f"Claude Code result {sub!r}" + (" (is_error)" if result.get("is_error") else "")
                           + ("; the agent ended its turn, nothing verified it" if sub == "success" else ""))
            main.source_exit_status = sub
            # A run that re-prompts its agent (a background sub-agent ended) prints a result per
            # prompt: each one's duration covers its own prompt, the cost is the session's so far.
            results = [e for _n, e in entries if e.get("type") == "result"]
            costs = [e["total_cost_usd"] for e in results if isinstance(e.get("total_cost_usd"), (int, float))]
            main.cost_usd = float(max(costs)) if costs else None
            ms = [e["duration_ms"] for e in results if isinstance(e.get("duration_ms"), (int, float))]
            if ms:
                main.wall_s = round(sum(ms) / 1000, 3)
            main.metadata.update(num_turns=result.get("num_turns"), result_text=result.get("result"),
                                 permission_denials=result.get("permission_denials"))
        # Claude Code re-prompts the agent when a background sub-agent ends (`task_notification`).
        for n, e in entries:
            if e.get("type") == "system" and e.get("subtype") == "task_notification":
                before = {m.get("message", {}).get("id") for m_n, m in groups[None]
                          if m_n < n and m.get("type") == "assistant"}
                main.notices.append(ImportedNotice(
                    step=len(before - {None}), kind="harness_message", at=f"line {n}",
                    text=f"sub-agent {e.get('tool_use_id')} {e.get('status')}: {e.get('summary') or ''}".strip()))
        main.notices.sort(key=lambda x: x.step)
        prompts = {b.get("id"): b.get("input", {}).get("prompt") for _n, e in groups[None]
                   for b in (e.get("message", {}).get("content") or []) if isinstance(b, dict)
                   and b.get("type") == "tool_use" and isinstance(b.get("input"), dict)}
        yield main
        for parent, lines in groups.items():
            if parent is None:
                continue
            sub_traj = _Session(source, lines, []).trajectory()
            sub_traj.key = f"subagent:{parent}"
            sub_traj.name = f"{main.name}-task-{parent}"
            sub_traj.model = str(init.get("model") or sub_traj.model)
            sub_traj.outcome, sub_traj.reason = "unknown", "a sub-agent's lines carry no end state of their own"
            if sub_traj.task is None and isinstance(prompts.get(parent), str):
                sub_traj.task = prompts[parent]  # the Task call's prompt: the stream has no line for it
            sub_traj.metadata.update(layout="stream-json", subagent={"parent_tool_use_id": parent,
                                                                      "parent_session_id": session_id,
                                                                      "parent_file": str(source.path.resolve())})
            yield sub_traj


def _as_session_line(e: dict, parent: str | None, init: dict) -> dict:
    line = dict(e)
    line.setdefault("sessionId", e.get("session_id"))
    line["isSidechain"] = parent is not None
    line.setdefault("cwd", init.get("cwd"))
    line.setdefault("version", init.get("claude_code_version"))
    if "tool_use_result" in e:
        line.setdefault("toolUseResult", e["tool_use_result"])
    return line


def _other(entries: list[tuple[int, dict]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for _n, e in entries:
        if e.get("type") not in ("user", "assistant"):
            key = f"{e.get('type')}/{e.get('subtype')}" if e.get("subtype") else str(e.get("type"))
            out[key] = out.get(key, 0) + 1
    return out
