"""Tone scoring: how frustrated an agent's own narration sounds, on a 0-3 scale with flags.

Tiers: `lexicon` (rules + VADER), `static` and `minilm` (sentence embeddings + trained heads),
`judge` (an optional LLM with a rubric), and `ensemble` (a stacked, calibrated combination).
See docs/tone.md for the scale, the corpus and the validation numbers.
"""
from testbed.scoring.tone.scale import FLAGS, LEVELS, segments

__all__ = ["FLAGS", "LEVELS", "segments", "ToneClassifier", "ToneScorer"]


def __getattr__(name: str):  # keep `import testbed.scoring.tone` free of numpy/sklearn until used
    if name == "ToneClassifier":
        from testbed.scoring.tone.classifier import ToneClassifier
        return ToneClassifier
    if name == "ToneScorer":
        from testbed.scoring.tone.scorer import ToneScorer
        return ToneScorer
    raise AttributeError(name)
