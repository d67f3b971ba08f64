"""The `tone` scorer for `testbed score`: per step, the narration written before the step's action
(`narration.text`), and the thinking/reasoning text as its own channel (`thinking`, or null)."""
from __future__ import annotations

import os
from typing import Any

from testbed.rundata import RunData


def _members_from_env() -> tuple[str, ...] | None:
    raw = os.environ.get("TESTBED_TONE_TIERS")
    return tuple(t.strip() for t in raw.split(",") if t.strip()) if raw else None


class ToneScorer:
    name = "tone"

    def __init__(self, members: tuple[str, ...] | list[str] | None = None, judge: str | None = None,
                 classifier: Any = None, fast: bool = False):
        from testbed.scoring.tone.classifier import DEFAULT_MEMBERS, ToneClassifier
        from testbed.scoring.tone.judge import judge_from_env
        if fast:  # the lexicon alone: no model to load or train, no judge (the replay's on-the-fly path)
            members = ("lexicon",)
        members = tuple(members or _members_from_env() or DEFAULT_MEMBERS)
        if "lexicon" not in members:
            members = ("lexicon", *members)
        self.classifier = classifier or ToneClassifier(members, judge=None if fast else judge_from_env(judge))

    def describe(self) -> dict[str, Any]:
        return self.classifier.describe()

    def score_texts(self, texts: list[str], thinking: list[str | None]) -> list[dict[str, Any]]:
        with_thinking = [i for i, t in enumerate(thinking) if t and t.strip()]
        results = self.classifier.classify(list(texts) + [thinking[i] for i in with_thinking])
        out = results[:len(texts)]
        for r in out:
            r["thinking"] = None
        for k, i in enumerate(with_thinking):
            th = results[len(texts) + k]
            th.pop("thinking", None)
            out[i]["thinking"] = th
        return out

    def score_run(self, run: RunData) -> dict[int, Any]:
        steps = run.steps
        texts = [(s.narration.text if s.narration else "") or "" for s in steps]
        thinking = [(s.narration.thinking if s.narration else None) for s in steps]
        return {s.index: r for s, r in zip(steps, self.score_texts(texts, thinking))}
