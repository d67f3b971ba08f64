"""Tone scoring throughput on CPU: steps scored per second for each tier and the ensemble, batched,
models loaded once, against VADER alone as the baseline measured in the same run. The narrations
are held-out corpus items joined two or three to a step, like an agent's narration before a
command. Target: >= 1,000 steps/s for the default ensemble (lexicon + static, no judge)."""
from __future__ import annotations

import random
import time

STEPS = 2000
MINILM_STEPS = 100  # the transformer tier is ~100x slower; fewer steps keep the bench short
REPEATS = 3


def _narrations(n: int) -> list[str]:
    from testbed.scoring.tone import corpus
    items = [i.text for i in corpus.load("heldout")]
    rng = random.Random(0)
    return [" ".join(rng.sample(items, rng.choice((1, 2, 3)))) for _ in range(n)]


def _rate(fn, texts, repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def run() -> dict:
    from testbed.scoring.tone.classifier import ToneClassifier
    from testbed.scoring.tone.lexicon import _vader
    from testbed.scoring.tone.scale import segments

    texts = _narrations(STEPS)
    vader = _vader()
    rates = {"baseline: VADER alone": _rate(lambda ts: [vader.polarity_scores(t) for t in ts], texts)}
    clf = ToneClassifier(("lexicon", "static", "minilm"), log=None)
    rates["lexicon"] = _rate(lambda ts: clf.classify(ts, "lexicon"), texts)
    rates["static"] = _rate(lambda ts: clf.classify(ts, "static"), texts)
    fast = ToneClassifier(("lexicon", "static"), log=None)
    rates["ensemble (lexicon+static)"] = _rate(lambda ts: fast.classify(ts), texts)
    rates["ensemble, one step per call"] = _rate(lambda ts: [fast.classify([t]) for t in ts], texts[:500])
    minilm_ratio = None
    if "minilm" in clf.members:
        small = texts[:MINILM_STEPS]
        enc = clf.encoders["minilm"]
        enc.encode(small)  # warm-up: the first pass allocates
        plain = _rate(lambda ts: enc.encode(ts), small, 2)
        rates["minilm"] = _rate(lambda ts: clf.classify(ts, "minilm"), small, 2)
        rates["plain MiniLM encode of the same texts"] = plain
        rates["ensemble (lexicon+static+minilm)"] = _rate(lambda ts: clf.classify(ts), small, 1)
        minilm_ratio = plain / rates["minilm"]  # time of the tier / time of a plain encode
    seg_per_step = sum(len(segments(t)) for t in texts) / len(texts)
    base = rates["baseline: VADER alone"]
    for name, r in rates.items():
        print(f"  {name:36s} {r:9.0f} steps/s   ({r / base:5.2f} x VADER alone)")
    print(f"  ({seg_per_step:.2f} segments per step, {STEPS} steps, best of {REPEATS})")
    ens = rates["ensemble (lexicon+static)"]
    targets = [{"name": "default ensemble (no judge), batched", "value": f"{ens:.0f} steps/s",
                "target": ">= 1000 steps/s", "met": ens >= 1000}]
    if minilm_ratio is not None:
        print(f"  minilm tier / plain MiniLM encode of the same narrations: {minilm_ratio:.3f}")
        targets.append({"name": "minilm tier / plain encode (time)", "value": f"{minilm_ratio:.3f}",
                        "target": "<= 1.1", "met": minilm_ratio <= 1.1})
    return {"steps_per_s": {k: round(v, 1) for k, v in rates.items()}, "segments_per_step": round(seg_per_step, 2),
            "ratio_to_vader": {k: round(v / base, 3) for k, v in rates.items()},
            "unavailable": clf.unavailable,
            "minilm_over_plain_encode": None if minilm_ratio is None else round(minilm_ratio, 3),
            "targets": targets}
