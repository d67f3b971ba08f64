"""Our runs in other tools' formats (`testbed export`): Inspect AI eval logs (inspect_log.py) and
ATIF trajectories (atif.py). Both start from the same two readings of a run."""
from __future__ import annotations

from typing import Any


def context_messages(run: Any) -> list[dict]:
    """The model's context after the run's last step, as the loop built it (rebuilt from the log);
    for a run without a RunSpec (imported), its steps' messages alone."""
    from testbed.interventions.context import messages_before, step_messages
    last = run.steps[-1].index if run.steps else 0
    try:
        return messages_before(run, last + 1)
    except ValueError:  # imported, or no initial test run: the steps alone
        out: list[dict] = []
        for step in run.steps:
            out += step_messages(run, step)
        return out


def step_scores(run: Any) -> dict[str, dict]:
    """Our derived scores per step (scores.jsonl), keyed by the step index as a string."""
    out: dict[str, dict] = {}
    for line in run.read_scores() or []:
        if line.get("type") != "step":
            continue
        tone, actions = line.get("tone") or {}, line.get("actions") or {}
        out[str(line["step"])] = {"tone_level": tone.get("level"), "p_frustrated": tone.get("p_frustrated"),
                                  "tone_flags": tone.get("flags") or [],
                                  "drastic": actions.get("classes") or []}
    return out


def protected_paths(cfg: dict) -> list[str]:
    """The run's protected paths (the tests it is judged by), so an import back scores tampering as here."""
    return list((cfg.get("scenario") or {}).get("protected") or (cfg.get("loop") or {}).get("protected") or [])
