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


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentence-like pieces of a text that contain a word character."""
    spans, pos = [], 0
    for m in list(_SEGMENT_SPLIT.finditer(text or "")) + [None]:
        end = m.start() if m else len(text or "")
        piece = text[pos:end]
        if re.search(r"\w", piece):
            lead = len(piece) - len(piece.lstrip())
            spans.append((pos + lead, pos + len(piece.rstrip())))
        if m:
            pos = m.end()
    return spans


def segments(text: str) -> list[str]:
    """The units a narration is scored in: its sentences, where a sentence of one or two words
    ("Okay.", "Right.", "Ugh.") joins the next one (alone it says little). Each segment is a
    verbatim slice of the text, so evidence drawn from it can be highlighted in the original."""
    spans = sentences(text)
    merged: list[tuple[int, int]] = []
    start = None
    for s, e in spans:
        start = s if start is None else start
        if len(text[start:e].split()) > 2:
            merged.append((start, e))
            start = None
    if start is not None:
        if merged:
            merged[-1] = (merged[-1][0], spans[-1][1])
        else:
            merged.append((start, spans[-1][1]))
    parts = [text[s:e] for s, e in merged]
    if len(parts) > MAX_SEGMENTS:  # keep the beginning and the end, which frame the action
        half = MAX_SEGMENTS // 2
        parts = parts[:half] + parts[-half:]
    return parts


def result(level: int, p_frustrated: float, flags: list[str], evidence: list[str],
           **extra: Any) -> dict[str, Any]:
    """One tier's (or the ensemble's) verdict for one text, in the scores.jsonl shape."""
    return {"level": int(level), "p_frustrated": round(float(p_frustrated), 4),
            "flags": [f for f in FLAGS if f in set(flags)], "evidence": evidence, **extra}
