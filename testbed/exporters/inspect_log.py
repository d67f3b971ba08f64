"""Our runs as Inspect AI eval logs, written with Inspect's own classes and writer, so Inspect View
(and tools that read Inspect logs: Docent, `inspect_ai.log.read_eval_log`) open them.

One log per run (an Inspect log is one task run): the scenario is the task, the run one sample
(epoch 1). The sample's messages are the model's exact context as the loop built it (system
prompt, task, every assistant turn with its tool calls, every tool result, every harness notice),
rebuilt from the log (testbed/interventions/context.py), so they are what the model saw (each tool
message also carries the raw output and exit code in its metadata, for an import back). How the
run ended goes in `sample.scores["testbed"]` (value `C` when solved, else `I`; the outcome and
reason in its metadata), and our derived scores per step (`scores.jsonl`: tone level,
p_frustrated, drastic classes) in `sample.metadata["testbed"]["steps"]`, keyed by step index, with
the run id, model, seed and initial commit. Runs imported from other harnesses have no RunSpec:
their messages are rebuilt from their steps alone (no system prompt).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.exporters import context_messages, protected_paths, step_scores
from testbed.rundata import RunData


def _chat(messages: list[dict], observations: dict[str, Any]) -> list[Any]:
    from inspect_ai.model import (ChatMessageAssistant, ChatMessageSystem, ChatMessageTool,
                                  ChatMessageUser)
    from inspect_ai.tool import ToolCall
    out: list[Any] = []
    for m in messages:
        role, content = m.get("role"), m.get("content") or ""
        if role == "system":
            out.append(ChatMessageSystem(content=content))
        elif role == "user":
            out.append(ChatMessageUser(content=content))
        elif role == "assistant":
            calls = [ToolCall(id=c.get("id") or f"call-{i}", function=c.get("name") or "",
                              arguments=dict(c.get("arguments") or {}))
                     for i, c in enumerate(m.get("tool_calls") or [])]
            out.append(ChatMessageAssistant(content=content, tool_calls=calls or None))
        elif role == "tool":
            # The content is what the model saw; the raw output and exit code ride along, so an
            # import of this log (testbed/importers/inspect_eval.py) gets the observation back.
            obs = observations.get(m.get("tool_call_id"))
            raw = None if obs is None else {"testbed": {"output": obs.output, "exit_code": obs.exit_code}}
            out.append(ChatMessageTool(content=content, tool_call_id=m.get("tool_call_id"),
                                       function=m.get("name"), metadata=raw))
    return out


def _observations(run: RunData) -> dict[str, Any]:
    """Each tool call's observation by call id (ids used twice in a run are left out)."""
    seen: dict[str, Any] = {}
    twice: set[str] = set()
    for step in run.steps:
        for obs in step.observations:
            if obs.tool_call_id in seen:
                twice.add(obs.tool_call_id)
            seen[obs.tool_call_id] = obs
    return {k: v for k, v in seen.items() if k not in twice}


def to_eval_log(run: RunData) -> Any:
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalPlan, EvalResults, EvalSample, EvalSpec
    from inspect_ai.scorer import Score
    cfg = (run.started.config if run.started else {}) or {}
    scenario = run.started.scenario if run.started else run.summary().get("scenario", "unknown")
    model = run.started.model if run.started else "unknown"
    finished = run.finished
    outcome = finished.outcome if finished else "unfinished"
    messages = context_messages(run)
    task_text = next((m["content"] for m in messages if m.get("role") == "user"), scenario)
    sample = EvalSample(
        id=run.run_id, epoch=1, input=task_text, target="the pristine tests pass",
        messages=_chat(messages, _observations(run)),
        scores={"testbed": Score(value="C" if outcome == "solved" else "I", answer=outcome,
                                 explanation=finished.reason if finished else "the run has no run_finished",
                                 metadata={"outcome": outcome, "steps": len(run.steps)})},
        metadata={"testbed": {"run_id": run.run_id, "scenario": scenario, "model": model,
                              "seed": run.started.seed if run.started else None,
                              "initial_commit": cfg.get("initial_commit"), "protected": protected_paths(cfg),
                              "outcome": outcome, "steps": step_scores(run)}})
    created = run.started.ts if run.started else ""
    spec = EvalSpec(created=created, task=scenario, task_id=scenario, run_id=run.run_id,
                    dataset=EvalDataset(name=scenario, samples=1), model=f"testbed/{model}",
                    config=EvalConfig(), metadata={"testbed_run": run.run_id, "exported_by": "testbed export"})
    return EvalLog(version=2, status="success" if finished else "started", eval=spec, plan=EvalPlan(),
                   results=EvalResults(total_samples=1, completed_samples=1 if finished else 0),
                   samples=[sample])


def export_inspect(run: RunData, dest: Path) -> Path:
    """Write one run as `<dest>/<run_id>.json` (or at `dest` when it names a .json file)."""
    from inspect_ai.log import write_eval_log
    dest = Path(dest)
    path = dest if dest.suffix == ".json" else dest / f"{run.run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_eval_log(to_eval_log(run), str(path), format="json")
    return path
