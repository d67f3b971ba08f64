"""Our runs as ATIF trajectories (Agent Trajectory Interchange Format v1.4, Harbor's
`trajectory.json`; spec: laude-institute/harbor docs/rfcs/0001-trajectory-format.md).

The steps follow the model's exact context, rebuilt from the log as for the Inspect export: the
system prompt (`source: system`), the task and every harness notice (`source: user`, the notice's
kind in `extra.testbed.notice`), and one `agent` step per step of ours: the narration as
`message`, thinking as `reasoning_content`, the tool calls, their results as the observation
(what the model saw), tokens and cost as `metrics`. Each agent step's `extra.testbed` holds our
step index, the raw output and exit code of every call (for an import back), and our derived
scores (tone level, p_frustrated, flags, drastic classes); `final_metrics.extra.testbed` holds the
outcome and reason, `agent.extra.testbed` the scenario, seed and initial commit.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testbed import __version__
from testbed.exporters import context_messages, protected_paths, step_scores
from testbed.rundata import RunData

SCHEMA_VERSION = "ATIF-v1.4"


def to_atif(run: RunData) -> dict[str, Any]:
    cfg = (run.started.config if run.started else {}) or {}
    model = run.started.model if run.started else "unknown"
    scores = step_scores(run)
    ours, notices = iter(run.steps), iter(run.notices)
    messages = context_messages(run)
    seen_task = not messages or messages[0].get("role") != "system"  # an imported run: no task message
    steps: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for m in messages:
        role, content = m.get("role"), m.get("content") or ""
        if role in ("system", "user"):
            entry: dict[str, Any] = {"step_id": len(steps) + 1, "source": role, "message": content}
            if role == "user" and seen_task:  # a harness notice, in log order
                notice = next(notices, None)
                entry["extra"] = {"testbed": {"notice": notice.kind if notice else "harness"}}
            seen_task = seen_task or role == "user"
            steps.append(entry)
            current = None
        elif role == "assistant":
            step = next(ours, None)
            current = {"step_id": len(steps) + 1, "source": "agent", "model_name": model, "message": content}
            if step is not None:
                current["timestamp"] = step.ts
                if step.narration.thinking:
                    current["reasoning_content"] = step.narration.thinking
                u = step.usage
                metrics = {k: v for k, v in (("prompt_tokens", u.input_tokens), ("completion_tokens", u.output_tokens),
                                             ("cost_usd", u.cost_usd)) if v is not None}
                if metrics:
                    current["metrics"] = metrics
                current["extra"] = {"testbed": {
                    "step": step.index, **scores.get(str(step.index), {}),
                    "results": {o.tool_call_id: {"output": o.output, "exit_code": o.exit_code}
                                for o in step.observations}}}
            calls = m.get("tool_calls") or []
            if calls:
                current["tool_calls"] = [{"tool_call_id": c.get("id") or f"call-{current['step_id']}-{i}",
                                          "function_name": c.get("name") or "",
                                          "arguments": dict(c.get("arguments") or {})}
                                         for i, c in enumerate(calls)]
            steps.append(current)
        elif role == "tool" and current is not None:
            current.setdefault("observation", {"results": []})["results"].append(
                {"source_call_id": m.get("tool_call_id"), "content": content})
    finished = run.finished
    usage = [s.usage for s in run.steps]
    final: dict[str, Any] = {"total_steps": len(run.steps),
                             "extra": {"testbed": {"outcome": finished.outcome if finished else "unfinished",
                                                   "reason": finished.reason if finished else ""}}}
    for key, attr in (("total_prompt_tokens", "input_tokens"), ("total_completion_tokens", "output_tokens")):
        values = [getattr(u, attr) for u in usage]
        if values and all(v is not None for v in values):
            final[key] = sum(values)
    if finished is not None and finished.cost_usd is not None:
        final["total_cost_usd"] = finished.cost_usd
    return {"schema_version": SCHEMA_VERSION, "session_id": run.run_id,
            "agent": {"name": "testbed", "version": __version__, "model_name": model,
                      "extra": {"testbed": {"scenario": run.started.scenario if run.started else None,
                                            "seed": run.started.seed if run.started else None,
                                            "initial_commit": cfg.get("initial_commit"),
                                            "protected": protected_paths(cfg)}}},
            "steps": steps, "final_metrics": final,
            "notes": "exported by `testbed export --format atif`: steps are the model's context as the "
                     "harness built it; extra.testbed holds raw tool outputs, exit codes and derived scores"}


def export_atif(run: RunData, dest: Path) -> Path:
    """Write one run as `<dest>/<run_id>.trajectory.json` (or at `dest` when it names a .json file)."""
    dest = Path(dest)
    path = dest if dest.suffix == ".json" else dest / f"{run.run_id}.trajectory.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_atif(run), indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
