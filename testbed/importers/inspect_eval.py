"""Inspect AI logs (`.eval` zip archives and `.json` logs), read with Inspect's own log reader.

An eval log holds one task run; each sample (× epoch) is one episode: `sample.messages` is the
conversation (`ChatMessageSystem/User/Assistant/Tool`); assistant messages carry `tool_calls`
(`id`, `function`, `arguments`, `parse_error`) and content blocks (`ContentText`, `ContentReasoning`);
tool messages carry `tool_call_id`, `function` and `error` (`ToolCallError(type, message)`).
`sample.error`, `sample.limit` (`EvalSampleLimit(type=message|token|time|working|cost|…)`) and
`sample.scores` say how the episode ended. Inspect's `bash` tool takes `command` (older releases:
`cmd`) and returns stderr + stdout without an exit code, so exit codes are unknown (None).

Needs the optional extra: `pip install 'testbed[inspect]'` (inspect-ai==0.3.285).

Sources: UKGovernmentBEIS/inspect_ai `src/inspect_ai/log/_log.py` (EvalLog, EvalSample,
EvalSampleLimit), `src/inspect_ai/model/_chat_message.py`, `src/inspect_ai/tool/_tools/_execute.py`,
read through the installed package's `inspect_ai.log.read_eval_log_samples`.
"""
from __future__ import annotations

import json
import zipfile
from typing import Any, Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, ImportFormatError,
                                    Source, bash_call, expect, text_of)
from testbed.log import Observation, ToolCall

INSTALL_HINT = ("reading Inspect logs needs the optional 'inspect' extra: "
                "pip install 'testbed[inspect]' (inspect-ai==0.3.285)")
_BUDGET_LIMITS = {"message", "token", "time", "working", "cost", "turn", "context"}
_CORRECT = {"C", "correct", "CORRECT", True}


class InspectNotInstalled(ImportFormatError):
    pass


def outcome_of(error: Any, limit: Any, scores: dict | None) -> tuple[str, str]:
    if error is not None:
        return "error", f"Inspect sample error: {_first_line(getattr(error, 'message', error))}"
    if limit is not None:
        kind = getattr(limit, "type", None)
        if kind in _BUDGET_LIMITS:
            return "budget_exhausted", f"Inspect {kind} limit reached"
        if kind == "operator":
            return "interrupted", "stopped by the operator"
        return "unknown", f"Inspect {kind} limit"
    values = {name: getattr(score, "value", None) for name, score in (scores or {}).items()}
    if any(_is_correct(v) for v in values.values()):
        return "solved", "the sample's scorer marked it correct (Inspect's own verdict: " + \
            ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"
    if values:
        return "submitted", "the agent finished; the scorer did not mark it correct (" + \
            ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"
    return "submitted", "the agent finished on its own; the sample was not scored"


def _is_correct(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value in _CORRECT
    if isinstance(value, (int, float)):
        return value == 1
    return False


def _first_line(text: Any) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else ""


class InspectImporter:
    name = "inspect"
    suffixes = (".eval", ".json")

    def sniff(self, source: Source) -> str | None:
        if source.is_zip():
            try:
                with zipfile.ZipFile(source.path) as z:
                    names = set(z.namelist())
            except (zipfile.BadZipFile, OSError) as exc:
                if source.path.name.endswith(".eval"):
                    return None  # damaged, but meant as an Inspect log: reading it names the damage
                return f"a damaged zip archive ({exc})"
            if "header.json" in names or "_journal/start.json" in names:
                return None
            return "a zip archive without Inspect's header.json or _journal/start.json"
        obj = source.json_or_none()
        if isinstance(obj, dict) and isinstance(obj.get("eval"), dict) and "version" in obj and (
                "samples" in obj or "status" in obj):
            return None
        return "neither an Inspect .eval archive nor a JSON log with 'version', 'eval' and 'samples'"

    def episode_keys(self, source: Source) -> list[str] | None:
        return None  # the samples are only known by reading the log

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        try:
            from inspect_ai.log import read_eval_log, read_eval_log_samples
        except ImportError:
            raise InspectNotInstalled(source.path, None, INSTALL_HINT) from None
        if not source.is_zip():
            source.json()  # a JSON syntax error is reported with its line and column
        try:
            header = read_eval_log(str(source.path), header_only=True)
        except Exception as exc:  # Inspect raises many types for damaged files
            raise ImportFormatError(source.path, "header", f"Inspect could not read the log: "
                                    f"{type(exc).__name__}: {_first_line(exc)}") from None
        spec = header.eval
        model = spec.model or "unknown"
        seed = getattr(spec.model_generate_config, "seed", None) if spec.model_generate_config else None
        n = -1
        samples = read_eval_log_samples(str(source.path), all_samples_required=False,
                                        resolve_attachments=True)
        while True:
            n += 1
            try:
                sample = next(samples)
            except StopIteration:
                break
            except Exception as exc:
                if n == 0:
                    # Logs of older Inspect versions have no `sample_ids` in their header, which the
                    # sample-by-sample reader needs; Inspect's full reader reads them.
                    samples = _full_read(source, exc)
                    n -= 1
                    continue
                raise ImportFormatError(source.path, f"samples[{n}]", f"Inspect could not read the sample: "
                                        f"{type(exc).__name__}: {_first_line(exc)}") from None
            yield _sample(source, sample, n, spec, model, seed, header.status)
        if n == 0:
            raise ImportFormatError(source.path, "samples", "the log holds no samples "
                                    f"(status {header.status!r}; written with log_samples=False?)")


def _full_read(source: Source, first_error: Exception) -> Iterator[Any]:
    from inspect_ai.log import read_eval_log
    try:
        log = read_eval_log(str(source.path), resolve_attachments=True)
    except Exception:
        raise ImportFormatError(source.path, "samples[0]", f"Inspect could not read the sample: "
                                f"{type(first_error).__name__}: {_first_line(first_error)}") from None
    return iter(log.samples or [])


def _sample(source: Source, sample: Any, n: int, spec: Any, model: str, seed: Any,
            status: str) -> ImportedTrajectory:
    prefix = f"samples[{n}] (id={sample.id!r}, epoch={sample.epoch})"
    tool_events = {getattr(e, "id", None): e for e in (sample.events or [])
                   if getattr(e, "event", None) == "tool"}
    steps: list[ImportedStep] = []
    notices: list[ImportedNotice] = []
    step_of_call: dict[str, ImportedStep] = {}
    task: str | None = None
    for i, msg in enumerate(sample.messages or []):
        at = f"{prefix}.messages[{i}]"
        role = getattr(msg, "role", None)
        if role == "system":
            continue
        if role == "user":
            text = text_of(_plain(msg.content))
            if task is None and not steps:
                task = text
            else:
                notices.append(ImportedNotice(step=len(steps), kind="user_message", text=text, at=at))
            continue
        if role == "assistant":
            steps.append(_assistant(msg, at, tool_events, step_of_call))
            continue
        if role == "tool":
            call_id = getattr(msg, "tool_call_id", None)
            step = step_of_call.get(call_id) if call_id else None
            if step is None:
                notices.append(ImportedNotice(step=len(steps), kind="orphan_tool_result",
                                              text=text_of(_plain(msg.content)), at=at))
                continue
            call = next(c for c in step.tool_calls if c.id == call_id)
            # A log written by `testbed export` keeps the raw output and exit code beside what the
            # model saw (its content).
            raw = ((getattr(msg, "metadata", None) or {}).get("testbed") or {})
            output = raw["output"] if isinstance(raw.get("output"), str) else text_of(_plain(msg.content))
            code = raw.get("exit_code")
            code = code if isinstance(code, int) and not isinstance(code, bool) else None
            error = getattr(msg, "error", None)
            event = tool_events.get(call_id)
            working = getattr(event, "working_time", None) if event is not None else None
            extra = {} if error is None else {"error": {"type": getattr(error, "type", None),
                                                        "message": getattr(error, "message", None)}}
            obs = Observation(tool_call_id=call_id, tool=call.name, output=output, exit_code=code, **extra,
                              duration_ms=round(working * 1000, 1) if isinstance(working, (int, float)) else None,
                              timed_out=bool(error is not None and getattr(error, "type", None) == "timeout"),
                              truncated=bool(getattr(event, "truncated", None)) if event is not None else False,
                              output_bytes=len(output.encode("utf-8", errors="replace")))
            step.observations.append(obs)
            step.observations_at.append(at)
            continue
        expect(False, source, at, f"unknown message role {role!r}")
    for step in steps:
        missing = [c.id for c in step.tool_calls if c.id not in {o.tool_call_id for o in step.observations}]
        if missing:
            step.note = f"no tool result recorded for {', '.join(missing)}"
    outcome, reason = outcome_of(sample.error, sample.limit, sample.scores)
    cost = None
    for usage in (sample.model_usage or {}).values():
        if getattr(usage, "total_cost", None) is not None:
            cost = (cost or 0.0) + usage.total_cost
    started = _iso(getattr(sample, "started_at", None))
    finished = _iso(getattr(sample, "completed_at", None))
    scores = {k: _jsonable(getattr(v, "value", None)) for k, v in (sample.scores or {}).items()}
    return ImportedTrajectory(
        key=f"{sample.id}#{sample.epoch}", name=f"{spec.task}-{sample.id}-e{sample.epoch}",
        scenario=f"{spec.task}/{sample.id}", model=str(model),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        task=task, steps=steps, notices=notices, outcome=outcome, reason=reason,
        source_exit_status={"error": _first_line(sample.error.message) if sample.error else None,
                            "limit": getattr(sample.limit, "type", None) if sample.limit else None,
                            "scores": scores},
        cost_usd=cost, started=started, finished=finished,
        wall_s=float(sample.total_time) if isinstance(sample.total_time, (int, float)) else None,
        at=prefix, protected=_protected(sample),
        metadata={"task": spec.task, "task_id": spec.task_id, "eval_id": spec.eval_id,
                  "run_id": spec.run_id, "sample_id": _jsonable(sample.id), "epoch": sample.epoch,
                  "log_status": status, "sandbox": _jsonable(spec.sandbox)},
        notes=["Inspect's bash tool returns no exit code; exit codes are unknown"])


def _protected(sample: Any) -> list[str] | None:
    """Protected paths that `testbed export --format inspect` keeps in the sample's metadata."""
    ours = ((getattr(sample, "metadata", None) or {}).get("testbed") or {})
    paths = ours.get("protected") if isinstance(ours, dict) else None
    return [str(x) for x in paths] if isinstance(paths, list) and paths else None


def _assistant(msg: Any, at: str, tool_events: dict, step_of_call: dict[str, ImportedStep]) -> ImportedStep:
    texts: list[str] = []
    after: list[str] = []
    thinking: list[str] = []
    content = msg.content
    for block in ([content] if isinstance(content, str) else content or []):
        if isinstance(block, str):
            texts.append(block)
        elif getattr(block, "type", None) == "text":
            texts.append(block.text)
        elif getattr(block, "type", None) == "reasoning":
            thinking.append("[redacted reasoning]" if getattr(block, "redacted", False) else block.reasoning)
    step = ImportedStep(at=at, text="\n\n".join(t for t in texts if t.strip()).strip(),
                        thinking="\n\n".join(thinking) or None,
                        after="\n\n".join(after) or None)
    notes = []
    for n, call in enumerate(getattr(msg, "tool_calls", None) or []):
        call_id = call.id or f"{at}.tool_calls[{n}]"
        args = dict(call.arguments or {})
        command = args.get("command", args.get("cmd"))
        if call.function == "bash" and isinstance(command, str):
            rest = {k: v for k, v in args.items() if k not in ("command", "cmd")}
            tc = bash_call(call_id, command, **rest)
        else:
            tc = ToolCall(id=call_id, name=call.function, arguments=args)
        if call.parse_error:
            notes.append(f"{call.function}: {call.parse_error}")
        step.tool_calls.append(tc)
        step_of_call[call_id] = step
        event = tool_events.get(call_id)
        if step.ts is None and event is not None and getattr(event, "timestamp", None) is not None:
            step.ts = _iso(event.timestamp)
    if notes:
        step.parse_note = "tool call arguments did not parse: " + "; ".join(notes)
    return step


def _plain(content: Any) -> Any:
    if isinstance(content, str):
        return content
    out = []
    for block in content or []:
        if getattr(block, "type", None) == "text":
            out.append({"type": "text", "text": block.text})
    return out


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)
