"""The tone scale and flags (the contract in docs/tone.md), shared by every tier."""
from __future__ import annotations

import re
from typing import Any

LEVELS = (0, 1, 2, 3)
LEVEL_NAMES = {0: "none", 1: "mild annoyance or confusion", 2: "explicit frustration or anger",
               3: "despair, giving up, self-blame"}
FLAGS = ("remorse", "give_up", "self_deprecation", "calm_determination")
FRUSTRATED_AT = 2  # p_frustrated = P(level >= 2)

# A narration is scored per sentence-like segment and the most severe segment wins, so one
# "this is ridiculous" in a long calm paragraph is not diluted. Capped for pathological inputs.
MAX_SEGMENTS = 24
_SEGMENT_SPLIT = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n+")


def segments(text: str) -> list[str]:
    parts = [p.strip() for p in _SEGMENT_SPLIT.split(text or "")]
    parts = [p for p in parts if p and re.search(r"\w", p)]
    if len(parts) > MAX_SEGMENTS:  # keep the beginning and the end, which frame the action
        half = MAX_SEGMENTS // 2
        parts = parts[:half] + parts[-half:]
    return parts


def result(level: int, p_frustrated: float, flags: list[str], evidence: list[str],
           **extra: Any) -> dict[str, Any]:
    """One tier's (or the ensemble's) verdict for one text, in the scores.jsonl shape."""
    return {"level": int(level), "p_frustrated": round(float(p_frustrated), 4),
            "flags": [f for f in FLAGS if f in set(flags)], "evidence": evidence, **extra}
