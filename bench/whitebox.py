"""White-box monitoring cost: generation with the `internal` readings (a forward hook on one layer,
then the projections) against the same generation without, interleaved, SmolLM2-135M on CPU,
64 sampled tokens per trial. Target: monitoring costs <= 10 % of generation time (docs/whitebox.md).
Also `testbed probe`'s prefix cache against a full forward pass per step (target: at most half).
The cost does not depend on the vectors' values, so random unit directions of the model's shape
stand in for built ones."""
from __future__ import annotations

import statistics
import time

import numpy as np

TRIALS = 5
TOKENS = 64


def run() -> dict:
    import torch
    from testbed.models import assets
    if assets.ready("local-small") is None:
        return {"skipped": "the local-small model is not set up (make setup-test)", "targets": []}
    from testbed.whitebox import weights
    from testbed.whitebox.hooks import Capture
    from testbed.whitebox.provider import internal_values, prompt_ids
    from testbed.whitebox.validate import PROMPT
    from testbed.whitebox.vectors import EmotionVectors
    loaded = weights.load("local-small-hf")
    tok, model = loaded.tokenizer, loaded.model
    rng = np.random.default_rng(0)
    names = ["desperate", "frustrated", "calm", "random"]
    dirs = {n: rng.standard_normal((loaded.layers, loaded.hidden)).astype(np.float32) for n in names}
    for d in dirs.values():
        d /= np.linalg.norm(d, axis=1, keepdims=True)
    vectors = EmotionVectors(names, dirs, {n: np.ones(loaded.layers, np.float32) for n in names},
                             {n: np.zeros(loaded.layers, np.float32) for n in names}, loaded.layers * 2 // 3)
    ids = torch.tensor([prompt_ids(tok, PROMPT)])

    def generate(monitor: bool, seed: int) -> float:
        torch.manual_seed(seed)
        kw = dict(max_new_tokens=TOKENS, min_new_tokens=TOKENS, do_sample=True, temperature=0.7,
                  pad_token_id=tok.eos_token_id, attention_mask=torch.ones_like(ids))
        t0 = time.perf_counter()
        with torch.no_grad():
            if monitor:
                with Capture(model, [vectors.layer]) as cap:
                    out = model.generate(ids, **kw)
                new = [int(t) for t in out[0][ids.shape[1]:]]
                internal_values(vectors, cap.positions(vectors.layer).numpy(), ids.shape[1], tok, new, "live")
            else:
                model.generate(ids, **kw)
        return time.perf_counter() - t0

    generate(False, 99)  # warm-up
    plain, monitored = [], []
    for i in range(TRIALS):
        plain.append(generate(False, i))
        monitored.append(generate(True, i))
    ratio = statistics.median(monitored) / statistics.median(plain)
    print(f"  {TOKENS} tokens: plain {statistics.median(plain):.2f} s, monitored {statistics.median(monitored):.2f} s "
          f"(median of {TRIALS}, interleaved): ratio {ratio:.3f}")
    cached_s, full_s = _prefix_cache(model, tok)
    cache_ratio = statistics.median(cached_s) / statistics.median(full_s)
    print(f"  reading a {TURNS}-turn run: prefix cache {statistics.median(cached_s):.2f} s, full passes "
          f"{statistics.median(full_s):.2f} s (median of {TRIALS}, interleaved): ratio {cache_ratio:.3f}")
    return {"plain_s": plain, "monitored_s": monitored, "ratio": round(ratio, 3), "tokens": TOKENS,
            "probe_cached_s": cached_s, "probe_full_s": full_s, "probe_ratio": round(cache_ratio, 3),
            "targets": [{"name": "monitoring / plain generation time", "value": round(ratio, 3),
                         "target": "<= 1.10", "met": ratio <= 1.10},
                        {"name": f"probe of a {TURNS}-turn run, prefix cache / full passes", "value": round(cache_ratio, 3),
                         "target": "<= 0.50", "met": cache_ratio <= 0.50}]}


TURNS = 12


def _prefix_cache(model, tok) -> tuple[list[float], list[float]]:
    """`testbed probe`'s cost on a run whose context grows by a turn a step (an observation and a
    reply of about 120 tokens), read with the prefix cache against a full pass per step."""
    import torch
    from testbed.whitebox.cache import PrefixCache
    turn = ("The tests still fail: 3 failed, 5 passed. AssertionError: expected [(1, 4)] but got [(1, 2), (3, 4)]. "
            "I will look at the merge condition again and check how touching ranges are handled. ") * 3
    piece = tok(turn, add_special_tokens=False)["input_ids"]
    contexts = [piece * (k + 1) for k in range(TURNS)]

    def cached() -> float:
        cache, t0 = PrefixCache(), time.perf_counter()
        for ids in contexts:
            cache.forward(model, ids, keep_from=len(ids) - len(piece))
        return time.perf_counter() - t0

    def full() -> float:
        t0 = time.perf_counter()
        with torch.no_grad():
            for ids in contexts:
                model(input_ids=torch.tensor([ids]))
        return time.perf_counter() - t0

    a, b = [], []
    for _ in range(TRIALS):
        a.append(cached())
        b.append(full())
    return a, b
