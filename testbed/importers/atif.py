"""ATIF trajectories (Agent Trajectory Interchange Format, Harbor's `trajectory.json`, v1.0–v1.7).

One file is one episode: `schema_version` ("ATIF-v1.x"), `session_id`, `agent` (`name`,
`version`, `model_name`), `steps` (each `step_id`, `source` = system | user | agent, `message`;
agent steps may have `reasoning_content`, `tool_calls` [`tool_call_id`, `function_name`,
`arguments`], `observation.results` [`source_call_id`, `content`], `metrics` [`prompt_tokens`,
`completion_tokens`, `cost_usd`], `timestamp`), `final_metrics`. The first user step is the task;
later user steps are notices; each agent step is one of our steps, its results matched to its calls
by `source_call_id`. ATIF has no exit codes and no end state, so both are unknown, except in a file
written by `testbed export --format atif`, whose `extra.testbed` keeps them (and the raw output
beside what the model saw). Tool names are kept as the source wrote them; a call named `bash`
with a `command` argument is judged as a shell command. v1.7 embeds sub-agents' trajectories
(`subagent_trajectories`, each with a `trajectory_id`): each becomes a run of its own, linked to its
parent (`config.source.subagent`).

Source: laude-institute/harbor docs/rfcs/0001-trajectory-format.md (v1.4), as mirrored in
OpenAgentsInc/openagents docs/atif/0001-trajectory-format.md.
"""
from __future__ import annotations

from typing import Any, Iterator

from testbed.importers.base import (ImportedNotice, ImportedStep, ImportedTrajectory, Source, expect,
                                    text_of)
from testbed.log import Observation, ToolCall, Usage


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


class AtifImporter:
    name = "atif"
    suffixes = ("trajectory.json",)

    def sniff(self, source: Source) -> str | None:
        obj = source.json_or_none()
        if isinstance(obj, dict) and str(obj.get("schema_version", "")).startswith("ATIF-") \
                and isinstance(obj.get("steps"), list):
            return None
        return "not an ATIF trajectory (no 'schema_version' ATIF-… with 'steps')"

    def episode_keys(self, source: Source) -> list[str] | None:
        return None  # embedded sub-agent trajectories are episodes too: known only after reading

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        obj = source.json()
        expect(isinstance(obj, dict), source, "$", "an ATIF trajectory is a JSON object")
        yield from self._document(source, obj, "", None)

    def _document(self, source: Source, obj: dict, base: str, parent: dict | None) -> Iterator[ImportedTrajectory]:
        """One trajectory and, after it, the sub-agent trajectories embedded in it (v1.7)."""
        expect(isinstance(obj.get("steps"), list), source, f"{base}steps", "'steps' must be a list")
        agent = obj.get("agent") if isinstance(obj.get("agent"), dict) else {}
        ours = ((agent.get("extra") or {}).get("testbed") or {}) if isinstance(agent.get("extra"), dict) else {}
        steps: list[ImportedStep] = []
        notices: list[ImportedNotice] = []
        task: str | None = None
        for i, st in enumerate(obj["steps"]):
            at = f"{base}steps[{i}]"
            expect(isinstance(st, dict), source, at, "a step must be an object")
            src, message = st.get("source"), text_of(st.get("message"))
            expect(src in ("system", "user", "agent"), source, f"{at}.source",
                   f"source must be system, user or agent, not {src!r}")
            if src == "system":
                continue
            if src == "user":
                if task is None and not steps:
                    task = message
                else:
                    kind = (((st.get("extra") or {}).get("testbed") or {}).get("notice")
                            if isinstance(st.get("extra"), dict) else None)
                    notices.append(ImportedNotice(step=len(steps), kind=kind or "user_message", text=message,
                                                  at=at, ts=st.get("timestamp")))
                continue
            steps.append(self._agent_step(source, st, at))
        final = obj.get("final_metrics") if isinstance(obj.get("final_metrics"), dict) else {}
        final_ours = ((final.get("extra") or {}).get("testbed") or {}) if isinstance(final.get("extra"), dict) else {}
        outcome = final_ours.get("outcome") if isinstance(final_ours.get("outcome"), str) else "unknown"
        sub_id = str(obj.get("trajectory_id") or base.rstrip("."))
        link = {"subagent": {"trajectory_id": obj.get("trajectory_id"), "parent_session_id": parent.get("session_id"),
                             "parent_trajectory_id": parent.get("trajectory_id"),
                             "parent_file": str(source.path.resolve())}} if parent is not None else {}
        yield ImportedTrajectory(
            key=f"subagent:{sub_id}" if parent is not None else "",
            name=str(obj.get("session_id") or source.path.stem) + (f"-sub-{sub_id}" if parent is not None else ""),
            scenario=str(ours.get("scenario") or "unknown"),
            model=str(agent.get("model_name") or "unknown"),
            seed=_int(ours.get("seed")), task=task, steps=steps, notices=notices,
            outcome=outcome, reason=str(final_ours.get("reason") or ""),
            source_exit_status={"schema_version": obj.get("schema_version"), **({"testbed": final_ours}
                                                                                  if final_ours else {})},
            cost_usd=_num(final.get("total_cost_usd")), at=base.rstrip(".") or "$",
            protected=[str(x) for x in ours.get("protected") or []] or None,
            metadata={"schema_version": obj.get("schema_version"), "session_id": obj.get("session_id"),
                      "trajectory_id": obj.get("trajectory_id"),
                      "agent": {k: agent.get(k) for k in ("name", "version", "model_name")}, **link},
            notes=[] if final_ours else ["ATIF records no exit codes and no end state: both unknown"])
        subs = obj.get("subagent_trajectories")
        for j, sub in enumerate(subs if isinstance(subs, list) else []):
            expect(isinstance(sub, dict), source, f"{base}subagent_trajectories[{j}]",
                   "an embedded sub-agent trajectory must be an object")
            yield from self._document(source, sub, f"{base}subagent_trajectories[{j}].", obj)

    def _agent_step(self, source: Source, st: dict, at: str) -> ImportedStep:
        ours = ((st.get("extra") or {}).get("testbed") or {}) if isinstance(st.get("extra"), dict) else {}
        raw = ours.get("results") if isinstance(ours.get("results"), dict) else {}
        calls = []
        for k, c in enumerate(st.get("tool_calls") or []):
            expect(isinstance(c, dict) and isinstance(c.get("function_name"), str), source,
                   f"{at}.tool_calls[{k}]", "a tool call needs a 'function_name'")
            args = c.get("arguments")
            calls.append(ToolCall(id=str(c.get("tool_call_id") or f"{at}-{k}"), name=c["function_name"],
                                  arguments=args if isinstance(args, dict) else {"value": args}))
        obs: list[Observation] = []
        results = (st.get("observation") or {}).get("results") if isinstance(st.get("observation"), dict) else None
        for k, r in enumerate(results or []):
            if not isinstance(r, dict):
                continue
            call_id = r.get("source_call_id")
            call = next((c for c in calls if c.id == call_id), None)
            keep = raw.get(call_id) if isinstance(raw.get(call_id), dict) else {}
            output = keep["output"] if isinstance(keep.get("output"), str) else text_of(r.get("content"))
            obs.append(Observation(tool_call_id=call_id or f"{at}-result-{k}", tool=call.name if call else "unknown",
                                   output=output, exit_code=_int(keep.get("exit_code")), duration_ms=None,
                                   output_bytes=len(output.encode("utf-8", errors="replace"))))
        m = st.get("metrics") if isinstance(st.get("metrics"), dict) else {}
        missing = [c.id for c in calls if c.id not in {o.tool_call_id for o in obs}]
        return ImportedStep(text=text_of(st.get("message")),
                            thinking=st.get("reasoning_content") if isinstance(st.get("reasoning_content"), str) else None,
                            tool_calls=calls, observations=obs, at=at, observations_at=[at] * len(obs),
                            usage=Usage(input_tokens=_int(m.get("prompt_tokens")),
                                        output_tokens=_int(m.get("completion_tokens")), cost_usd=_num(m.get("cost_usd"))),
                            ts=st.get("timestamp") if isinstance(st.get("timestamp"), str) else None,
                            note=f"no tool result recorded for {', '.join(missing)}" if missing else None)
