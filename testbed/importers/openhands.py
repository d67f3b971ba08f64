"""OpenHands (V0) event streams: a saved trajectory (a JSON list of events, as
`save_trajectory_path` and the replay tests write), an evaluation output row (`{"instance_id",
"instruction", "metadata", "history": [events], "metrics", "error", "test_result"}`), or a
`output.jsonl` of such rows (one episode a line).

An event is an action or an observation: `{id, timestamp, source (user|agent|environment),
message, action, args, tool_call_metadata, timeout}` or `{id, timestamp, source, message, cause
(the action's id), observation, content, extras, tool_call_metadata}`. Actions: `message` (the
person's task and replies; the agent's messages), `run` (`args.command`, `thought`), `run_ipython`
(`code`), `read`, `write`, `edit` (`str_replace_editor` sub-commands: `command`, `path`,
`file_text`, `old_str`, `new_str`; or an LLM edit's `content`), `think`, `finish`
(`final_thought`/`thought`, `outputs`), `browse*`, `delegate`, `recall`/`system` (the harness's
prompt and memory), `condensation`, `change_agent_state`. A `run` observation's exit code is in
`extras.metadata.exit_code`. `tool_call_metadata.model_response` is the raw model response: the
actions of one response (parallel tool calls) share its `id` and make one step; its usage is the
step's tokens.

Outcome: a `finish` action is `submitted` (nothing verified it); an evaluation row's `error`
naming the iteration or budget limit is `budget_exhausted`, any other `error` is `error`; the
final `agent_state_changed` observation (`error`, `stopped`, `rejected`) says the rest.

Sources: All-Hands-AI/OpenHands `openhands/events/serialization/`, `tests/runtime/trajs/*.json`
and `evaluation/benchmarks/multi_swe_bench/examples/output.jsonl` (tests/data/import/openhands/).
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, ImportFormatError,
                                    Source, bash_call, expect, norm_iso, seconds_between)
from testbed.log import Observation, ToolCall, Usage

_BOOKKEEPING = ("system", "recall", "condensation", "change_agent_state", "null")


def _is_event(e: Any) -> bool:
    return isinstance(e, dict) and ("action" in e or "observation" in e) and ("source" in e or "id" in e)


def _events(obj: Any) -> list | None:
    if isinstance(obj, list) and obj and all(isinstance(e, dict) for e in obj[:5]) and any(_is_event(e) for e in obj[:5]):
        return obj
    if isinstance(obj, dict) and isinstance(obj.get("history"), list) and obj["history"] \
            and any(_is_event(e) for e in obj["history"][:5]):
        return obj["history"]
    return None


class OpenHandsImporter:
    name = "openhands"
    suffixes = (".json", ".jsonl")

    def sniff(self, source: Source) -> str | None:
        if source.is_zip():
            return "it is a zip archive"
        obj = None if source.path.suffix == ".jsonl" else source.json_or_none()
        if obj is not None:
            return None if _events(obj) is not None else "not an OpenHands event list or evaluation row"
        for n, text, _last in source.lines():
            try:
                first = json.loads(text)
            except json.JSONDecodeError as exc:
                return f"line {n} is not JSON ({exc.msg} at column {exc.colno})"
            return None if isinstance(first, dict) and _events(first) is not None \
                else "the first line is not an OpenHands evaluation row with a 'history' of events"
        return "the file is empty"

    def episode_keys(self, source: Source) -> list[str] | None:
        return None

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        obj = None if source.path.suffix == ".jsonl" else source.json_or_none()
        if obj is not None:
            events = _events(obj)
            expect(events is not None, source, "$", "expected a list of OpenHands events or a row with 'history'")
            row = obj if isinstance(obj, dict) else {}
            yield _Episode(source, row, events, key="", at="$").trajectory()
            return
        for line_no, text, last in source.lines():
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                if last:
                    break  # a row still being written
                raise ImportFormatError(source.path, f"line {line_no}",
                                        f"not valid JSON ({exc.msg} at column {exc.colno})") from None
            events = _events(row)
            expect(events is not None, source, f"line {line_no}", "an evaluation row needs a 'history' of events")
            key = str(row.get("instance_id") or f"line{line_no}")
            yield _Episode(source, row, events, key=key, at=f"line {line_no}").trajectory()


class _Episode:
    def __init__(self, source: Source, row: dict, events: list, key: str, at: str):
        self.source, self.row, self.events, self.key, self.at = source, row, events, key, at
        self.prefix = f"{at}.history" if row else ""

    def _pos(self, i: int) -> str:
        return f"{self.prefix}[{i}]" if self.prefix else f"[{i}]"

    def trajectory(self) -> ImportedTrajectory:
        steps: list[ImportedStep] = []
        notices: list[ImportedNotice] = []
        notes: list[str] = []
        by_action: dict[Any, tuple[ImportedStep, ToolCall]] = {}
        by_response: dict[str, ImportedStep] = {}
        task: str | None = None
        model: str | None = None
        finished = False
        final_state: str | None = None
        skipped: dict[str, int] = {}
        for i, e in enumerate(self.events):
            at = self._pos(i)
            if not isinstance(e, dict):
                raise ImportFormatError(self.source.path, at, "an event must be an object")
            ts = norm_iso(e.get("timestamp"))
            args = e.get("args") if isinstance(e.get("args"), dict) else {}
            src = e.get("source")
            if "action" in e:
                kind = str(e.get("action"))
                if kind in _BOOKKEEPING or args.get("hidden"):
                    skipped[kind] = skipped.get(kind, 0) + 1
                    continue
                if src == "user" and kind == "message":
                    text = str(args.get("content") or e.get("message") or "")
                    if task is None and not steps:
                        task = text
                    else:
                        notices.append(ImportedNotice(step=len(steps), kind="user_message", text=text, at=at, ts=ts))
                    continue
                if src != "agent":
                    skipped[f"{src}:{kind}"] = skipped.get(f"{src}:{kind}", 0) + 1
                    continue
                meta = e.get("tool_call_metadata") if isinstance(e.get("tool_call_metadata"), dict) else {}
                response = meta.get("model_response") if isinstance(meta.get("model_response"), dict) else {}
                model = model or (response.get("model") if isinstance(response.get("model"), str) else None)
                rid = response.get("id") if isinstance(response.get("id"), str) else None
                step = by_response.get(rid) if rid else None
                if step is None:
                    step = ImportedStep(at=at, ts=ts, usage=_usage(response))
                    steps.append(step)
                    if rid:
                        by_response[rid] = step
                    step.text = _thought(kind, args, e, response) if kind != "think" else _content(response)
                if kind == "think":
                    thought = str(args.get("thought") or "").strip()
                    if thought and thought != step.text:  # some models also write it as the reply's text
                        step.thinking = "\n\n".join(x for x in (step.thinking or "", thought) if x)
                if kind == "message":
                    continue  # the agent's text reply: its narration is the step's text
                call = _call(kind, args, str(meta.get("tool_call_id") or e.get("id") or at), meta, response)
                step.tool_calls.append(call)
                if kind == "finish":
                    finished = True
                by_action[e.get("id")] = (step, call)
            elif "observation" in e:
                kind = str(e.get("observation"))
                extras = e.get("extras") if isinstance(e.get("extras"), dict) else {}
                if kind == "agent_state_changed":
                    final_state = str(extras.get("agent_state") or "")
                    continue
                found = by_action.get(e.get("cause"))
                if found is None:
                    if kind == "error":
                        notices.append(ImportedNotice(step=len(steps), kind="harness_message",
                                                      text=str(e.get("content") or e.get("message") or ""), at=at, ts=ts))
                    elif kind not in _BOOKKEEPING and not extras.get("hidden"):
                        skipped[f"observation:{kind}"] = skipped.get(f"observation:{kind}", 0) + 1
                    continue
                step, call = found
                output = str(e.get("content") or "")
                metadata = extras.get("metadata") if isinstance(extras.get("metadata"), dict) else {}
                code = metadata.get("exit_code", extras.get("exit_code"))
                code = code if isinstance(code, int) and not isinstance(code, bool) and code != -1 else None
                extra: dict[str, Any] = {"observation": kind}
                if kind == "error":
                    extra["is_error"] = True
                step.observations.append(Observation(tool_call_id=call.id, tool=call.name, output=output,
                                                     exit_code=code if call.name == "bash" else None,
                                                     duration_ms=None,
                                                     output_bytes=len(output.encode("utf-8", errors="replace")),
                                                     **extra))
                step.observations_at.append(at)
        for step in steps:
            missing = [c.id for c in step.tool_calls
                       if c.name != "finish" and c.id not in {o.tool_call_id for o in step.observations}]
            if missing:
                step.note = f"no observation recorded for {', '.join(missing)}"
        error = self.row.get("error")
        metadata = self.row.get("metadata") if isinstance(self.row.get("metadata"), dict) else {}
        llm = metadata.get("llm_config") if isinstance(metadata.get("llm_config"), dict) else {}
        if error:
            text = str(error)
            limit = any(w in text.lower() for w in ("maximum iteration", "budget", "max_iterations", "exceeded"))
            outcome = "budget_exhausted" if limit else "error"
            reason = f"OpenHands error: {text[:300]}"
        elif finished:
            outcome, reason = "submitted", "the agent called finish; nothing verified it"
        elif final_state in ("error",):
            outcome, reason = "error", "the agent's last state was 'error'"
        elif final_state in ("stopped", "rejected", "paused"):
            outcome, reason = "interrupted", f"the agent's last state was {final_state!r}"
        else:
            outcome, reason = "unknown", "the events record no end (no finish, no error)" + (
                f"; last agent state {final_state!r}" if final_state else "")
        stamps = [norm_iso(e.get("timestamp")) for e in self.events if isinstance(e, dict)]
        stamps = [s for s in stamps if s]
        instruction = self.row.get("instruction")
        name = str(self.row.get("instance_id") or self.source.path.stem)
        return ImportedTrajectory(
            key=self.key, name=name, scenario=str(self.row.get("instance_id") or "unknown"),
            model=str(llm.get("model") or model or "unknown"),
            task=task or (str(instruction) if instruction else None), steps=steps, notices=notices,
            outcome=outcome, reason=reason, source_exit_status=error or final_state,
            started=stamps[0] if stamps else None, finished=stamps[-1] if stamps else None,
            wall_s=seconds_between(stamps[0], stamps[-1]) if stamps else None, at=self.at,
            metadata={"layout": "evaluation row" if self.row else "event list",
                      "agent_class": metadata.get("agent_class"), "max_iterations": metadata.get("max_iterations"),
                      "openhands_version": metadata.get("git_commit") or metadata.get("openhands_version"),
                      "dataset": metadata.get("dataset"), "final_agent_state": final_state,
                      "left_out": skipped,
                      "test_result_keys": sorted(self.row["test_result"]) if isinstance(self.row.get("test_result"), dict) else None},
            notes=notes)


def _usage(response: dict) -> Usage:
    usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
    def n(k: str) -> int | None:
        v = usage.get(k)
        return v if isinstance(v, int) and not isinstance(v, bool) else None
    return Usage(input_tokens=n("prompt_tokens"), output_tokens=n("completion_tokens"))


def _message(response: dict) -> dict:
    choices = response.get("choices") if isinstance(response.get("choices"), list) else []
    msg = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    return msg if isinstance(msg, dict) else {}


def _content(response: dict) -> str:
    content = _message(response).get("content")
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        return "\n".join(str(b.get("text") or "") for b in content if isinstance(b, dict)).strip()
    return ""


def _thought(kind: str, args: dict, e: dict, response: dict) -> str:
    """The narration of a model response: the message content it came with, else the action's thought."""
    content = _content(response)
    if content:
        return content
    if kind == "message":
        return str(args.get("content") or e.get("message") or "").strip()
    if kind == "finish":
        return str(args.get("final_thought") or args.get("thought") or e.get("message") or "").strip()
    return str(args.get("thought") or "").strip()


def _model_call(response: dict, call_id: str) -> tuple[str, dict] | None:
    """The tool call as the model wrote it (name, parsed arguments), from the raw response."""
    for tc in _message(response).get("tool_calls") or []:
        fn = tc.get("function") if isinstance(tc, dict) else None
        if isinstance(fn, dict) and tc.get("id") == call_id and isinstance(fn.get("name"), str):
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except ValueError:
                return None
            return (fn["name"], args) if isinstance(args, dict) else None
    return None


def _call(kind: str, args: dict, call_id: str, meta: dict, response: dict) -> ToolCall:
    fn = str(meta.get("function_name") or "")
    written = _model_call(response, call_id)
    if written is not None and kind in ("edit", "read", "write"):
        # What the model asked the editor for (command, path, file_text/old_str/new_str); the
        # event's own args of these actions vary by version (some keep only a translated call).
        return ToolCall(id=call_id, name=written[0], arguments=written[1])
    if kind == "run" and isinstance(args.get("command"), str):
        rest = {k: v for k, v in args.items() if k in ("is_input", "blocking", "timeout")}
        return bash_call(call_id, args["command"], **rest)
    if kind == "edit":
        keep = {k: v for k, v in args.items() if k not in ("thought", "impl_source", "translated_ipython_code")
                and v not in (None, "")}
        if args.get("command") and "content" in keep and not keep.get("content"):
            keep.pop("content")
        return ToolCall(id=call_id, name="str_replace_editor" if args.get("command") else "edit_file", arguments=keep)
    if kind == "write":
        return ToolCall(id=call_id, name="write_file", arguments={"path": args.get("path"), "content": args.get("content")})
    if kind == "read":
        return ToolCall(id=call_id, name=fn or "read_file",
                        arguments={k: v for k, v in args.items() if k in ("path", "start", "end", "view_range")})
    if kind == "run_ipython":
        return ToolCall(id=call_id, name="ipython", arguments={"code": args.get("code")})
    if kind == "finish":
        return ToolCall(id=call_id, name="finish", arguments={k: v for k, v in args.items() if k != "thought"})
    return ToolCall(id=call_id, name=fn or kind,
                    arguments={k: v for k, v in args.items() if k not in ("thought", "translated_ipython_code")})
