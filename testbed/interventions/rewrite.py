"""Rewriting what the agent said, keeping what it did.

An arm of an intervention changes the tone of the agent's earlier narration and nothing else: the
actions (tool calls, the fenced command of a text-protocol reply) stay byte for byte, only the words
around them change. Each rewrite is checked with the project's tone classifier and retried until it
reads at the target (`calm`: level 0; `frustrated`: level 2 or more; `same-tone`: the original's
level), up to `tries` times; every step says in the log how it was rewritten and whether it made it.

Rewriters:
- `simulated`: the simulated persona's own fragments at another level (its plans, the facts, kept);
- `resample`: the agent's own model, asked again at that step's context; its new narration is kept
  (the action part of the original stays) when it reads at the target;
- `model:SPEC`: any chat model told to rewrite the narration in the target tone, facts kept.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Callable

TARGETS = ("calm", "frustrated", "same-tone")
_ACTION = re.compile(r"(?ms)^[ \t]*(```|~~~)|<tool_call>|^\s*\{\s*\"name\"\s*:")


@dataclass
class Rewrite:
    step: int
    method: str
    level_before: int
    level_after: int
    tries: int
    accepted: bool
    original: str
    text: str

    def record(self) -> dict[str, Any]:
        return asdict(self)


def split_action(text: str) -> tuple[str, str]:
    """(narration, action part): the action part starts at the first fence or tool-call markup."""
    m = _ACTION.search(text or "")
    if not m:
        return text or "", ""
    return text[:m.start()].rstrip(), text[m.start():]


def hits_target(target: str, level: int, original_level: int) -> bool:
    if target == "calm":
        return level == 0
    if target == "frustrated":
        return level >= 2
    return level == original_level


class ToneJudge:
    """The tone classifier the acceptance rule uses (the scorer's default ensemble)."""

    def __init__(self, classifier: Any = None):
        if classifier is None:
            from testbed.scoring.tone.classifier import ToneClassifier
            classifier = ToneClassifier()
        self.classifier = classifier

    def level(self, text: str) -> int:
        return int(self.classifier.classify([text])[0]["level"])


class Rewriter:
    """Base: `candidate(step, narration, target, attempt)` proposes; `rewrite` checks and retries."""

    method = "?"

    def __init__(self, judge: ToneJudge, tries: int = 8):
        self.judge, self.tries = judge, tries

    def candidate(self, step: Any, narration: str, target: str, attempt: int) -> str | None:
        raise NotImplementedError

    def rewrite(self, step: Any, target: str) -> Rewrite:
        original = step.narration.text or ""
        narration, action = split_action(original)
        before = self.judge.level(narration) if narration.strip() else 0
        if target != "same-tone" and hits_target(target, before, before):
            return Rewrite(step.index, "unchanged (already at the target)", before, before, 0, True, original, original)
        best: tuple[str, int] | None = None
        for attempt in range(1, self.tries + 1):
            cand = self.candidate(step, narration, target, attempt)
            if not cand or not cand.strip():
                continue
            level = self.judge.level(cand)
            if hits_target(target, level, before) and cand.strip() != narration.strip():
                return Rewrite(step.index, self.method, before, level, attempt, True, original,
                               _join(cand, action))
            if best is None:
                best = (cand, level)
        # no candidate made it: the original stays, and the record says so
        return Rewrite(step.index, self.method, before, before if best is None else best[1], self.tries, False,
                       original, original)


def _join(narration: str, action: str) -> str:
    return narration.strip() + ("\n\n" + action if action else "")


class SimulatedRewriter(Rewriter):
    """The simulated persona's fragments at the target level (testbed/models/simulated.py)."""

    method = "simulated"

    def __init__(self, judge: ToneJudge, seed: int = 0, tries: int = 8):
        super().__init__(judge, tries)
        import random
        self.rng = random.Random(seed)

    def candidate(self, step: Any, narration: str, target: str, attempt: int) -> str | None:
        from testbed.models.simulated import restyle
        level = {"calm": 0, "frustrated": 2 + (attempt % 2)}.get(target)
        if level is None:  # same tone: same level, other fragments
            level = self.judge.level(narration)
        return restyle(narration, level, self.rng)


class ResampleRewriter(Rewriter):
    """The agent's own model, asked again at the step's own context."""

    method = "resample"

    def __init__(self, judge: ToneJudge, model: Any, context_of: Callable[[int], list], tools: list,
                 tries: int = 8):
        super().__init__(judge, tries)
        self.model, self.context_of, self.tools = model, context_of, tools

    def candidate(self, step: Any, narration: str, target: str, attempt: int) -> str | None:
        turn = self.model.turn(self.context_of(step.index), self.tools)
        return split_action(turn.text or "")[0]


REWRITE_PROMPT = {
    "calm": "calm, matter-of-fact and patient",
    "frustrated": "frustrated, exasperated and impatient",
    "same-tone": "exactly as calm or as frustrated as the original, in different words",
}


class ModelRewriter(Rewriter):
    """A chat model told to rewrite the narration in the target tone, every fact kept."""

    method = "model"

    def __init__(self, judge: ToneJudge, model: Any, tries: int = 8):
        super().__init__(judge, tries)
        self.model = model
        self.method = f"model:{model.name}"

    def candidate(self, step: Any, narration: str, target: str, attempt: int) -> str | None:
        messages = [
            {"role": "system", "content": "You rewrite one short paragraph written by a software engineer "
                                          "while debugging. Keep every fact, file name, number and plan; "
                                          "change only the tone. Reply with the rewritten paragraph only."},
            {"role": "user", "content": f"Rewrite this so that it sounds {REWRITE_PROMPT[target]}:\n\n{narration}"},
        ]
        turn = self.model.turn(messages, [])
        text = split_action(turn.text or "")[0].strip().strip('"')
        return text or None


def make_rewriter(kind: str, judge: ToneJudge, seed: int, agent_model: Any = None,
                  context_of: Callable[[int], list] | None = None, tools: list | None = None) -> Rewriter:
    if kind == "simulated":
        return SimulatedRewriter(judge, seed)
    if kind == "resample":
        if agent_model is None or context_of is None:
            raise ValueError("the resample rewriter needs the agent's model")
        return ResampleRewriter(judge, agent_model, context_of, tools or [])
    if kind.startswith("model:"):
        from testbed.models import load_model
        from testbed.models.base import ModelContext
        model = load_model(kind.split(":", 1)[1])
        model.start(ModelContext(run_id="rewriter", seed=seed, scenario="", protected=[], files=[],
                                 give_up_tool=False))
        return ModelRewriter(judge, model)
    raise ValueError(f"unknown rewriter {kind!r} (simulated, resample, model:SPEC)")
