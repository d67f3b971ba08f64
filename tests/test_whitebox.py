"""White-box tools: emotion vectors, the hf: provider's internal channel, probing, steering.

The unit tests plant a direction in synthetic activations; the slow ones use the real SmolLM2-135M
(the `local-small` GGUF, dequantized by transformers) and a real sandbox."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from testbed.models.base import ModelSpecError
from testbed.whitebox import vectors as V
from testbed.whitebox.provider import parse_steer, split_spec

ROOT = Path(__file__).resolve().parents[1]


def test_steer_spec_parses_terms_layers_and_other_options():
    source, options, steer = split_spec("hf:local-small-hf@vectors=/tmp/v,steer=desperate:+4,calm:-2,layers=10-14,temperature=0.2")
    assert source == "local-small-hf"
    assert options == {"vectors": "/tmp/v", "temperature": 0.2}
    assert steer == ({"desperate": 4.0, "calm": -2.0}, (10, 14))
    assert split_spec("hf:/m/model.gguf")[0] == "/m/model.gguf"
    for bad in ("desperate", "desperate:+4,layers=9-3", "layers=1-2", "desperate:x"):
        with pytest.raises(ModelSpecError):
            parse_steer(bad)
    with pytest.raises(ModelSpecError, match="unknown model option"):
        split_spec("hf:local-small-hf@colour=red")


def test_corpus_never_names_its_emotion_and_is_balanced():
    texts = V.load_corpus()
    assert set(texts) == {"desperate", "frustrated", "calm", "neutral"}
    assert len({len(v) for v in texts.values()}) == 1 and len(texts["calm"]) >= 30
    names = re.compile(r"desperat|frustrat|calm", re.I)
    for name, items in texts.items():
        assert len(set(items)) == len(items), f"duplicate texts in {name}"
        assert not [t for t in items if names.search(t)], f"a {name} text names an emotion"


def _planted(seed: int, strength: float, n: int = 30, layers: int = 4, hidden: int = 32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    topic = rng.standard_normal(hidden) * 3  # a shared nuisance direction, strongest in neutral text
    dirs = {e: rng.standard_normal(hidden) for e in V.EMOTIONS}
    acts = {}
    for c in (*V.EMOTIONS, "neutral"):
        x = rng.standard_normal((n, layers, hidden)) + rng.standard_normal((n, 1, 1)) * topic
        if c != "neutral":
            for layer in range(layers):  # the emotion is present from layer 2 on only
                x[:, layer] += (strength if layer >= 2 else 0.0) * dirs[c] / np.linalg.norm(dirs[c])
        acts[c] = x
    return acts


def test_build_recovers_planted_directions_and_the_random_control_stays_at_chance():
    vecs, fig = V.build(_planted(0, strength=4.0))
    assert fig["layer"] >= 2
    for e in V.EMOTIONS:
        assert fig["accuracy"][e][fig["layer"]] >= 0.9
        assert fig["accuracy"][e][0] < 0.75  # nothing planted at layer 0
    assert 0.3 <= float(np.mean(fig["accuracy"][V.RANDOM])) <= 0.7
    for n in vecs.names:
        assert np.allclose(np.linalg.norm(vecs.directions[n], axis=1), 1.0, atol=1e-5)
    null, nfig = V.build(_planted(1, strength=0.0))
    assert max(max(nfig["accuracy"][e]) for e in V.EMOTIONS) < 0.85


def test_vectors_save_load_and_reject_a_changed_file(tmp_path):
    vecs, fig = V.build(_planted(2, strength=4.0))
    vecs.meta = {"figures": fig}
    vecs.save(tmp_path)
    back = V.EmotionVectors.load(tmp_path)
    assert back.layer == vecs.layer and back.names == vecs.names
    h = np.ones((3, 32))
    assert np.allclose(back.z(h, "calm"), vecs.z(h, "calm"), atol=1e-5)
    with np.load(tmp_path / V.VECTORS_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["calm.direction"][0, 0] += 1
    np.savez(tmp_path / V.VECTORS_FILE, **arrays)
    with pytest.raises(ValueError, match="sha256"):
        V.EmotionVectors.load(tmp_path)
    with pytest.raises(ValueError, match="not a vectors directory"):
        V.EmotionVectors.load(tmp_path / "nothing")


# -- real model ---------------------------------------------------------------------------------
def _testbed(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "testbed", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def small_vectors(tmp_path_factory):
    from testbed.models import assets
    if assets.ready("local-small") is None:
        pytest.skip("the local-small model is not set up (make setup-test)")
    out = tmp_path_factory.mktemp("vectors") / "small"
    r = _testbed("vectors", "build", "--model", "hf:local-small-hf", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "chosen layer" in r.stdout
    return out


@pytest.mark.slow
def test_vectors_of_the_real_small_model_separate_held_out_texts(small_vectors):
    meta = json.loads((small_vectors / V.META_FILE).read_text())
    fig = meta["figures"]
    at = fig["at_layer"]
    # measured: desperate 0.88, frustrated 0.90, calm 0.87 at layer 16 of 30; random 0.53
    assert min(at[e] for e in V.EMOTIONS) >= 0.8, at
    assert np.mean([at[e] for e in V.EMOTIONS]) >= 0.85
    assert 0.35 <= float(np.mean(fig["accuracy"][V.RANDOM])) <= 0.7
    assert meta["model"]["gguf_sha256"] and meta["corpus_sha256"] == V.corpus_sha256()
    assert (small_vectors / V.PLOT_FILE).stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.docker
def test_hf_run_records_internal_and_probe_reads_the_same_values(small_vectors, tmp_path):
    from testbed.rundata import load_run
    from testbed.whitebox.probe import INTERNAL_FILE, read_internal
    spec = f"hf:local-small-hf@vectors={small_vectors},max_tokens=48"
    r = _testbed("run", "interval-off-by-one", "--model", spec, "--max-steps", "2", "--runs-dir", str(tmp_path),
                 "--no-score", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    run_dir = next(tmp_path.iterdir())
    run = load_run(run_dir)
    request = run.started.config["request"]
    assert request["runtime"] == "transformers" and request["vectors"]["layer"] == json.loads(
        (small_vectors / V.META_FILE).read_text())["layer"]
    live = {s.index: s.internal for s in run.steps}
    assert len(live) == 2 and all(v and v["source"] == "live" for v in live.values())
    for v in live.values():
        assert set(v["pre"]) == {"desperate", "frustrated", "calm", "random"}
        assert v["tokens"]["narration"] + v["tokens"]["action"] > 0
    p = _testbed("probe", str(run_dir), "--vectors", str(small_vectors))
    assert p.returncode == 0, p.stderr[-3000:]
    probed = {json.loads(line)["step"]: json.loads(line)["internal"]
              for line in (run_dir / INTERNAL_FILE).read_text().splitlines()}
    for i, v in live.items():
        assert probed[i]["source"] == "probe"
        for name, value in v["pre"].items():
            assert abs(probed[i]["pre"][name] - value) < 1e-2
    assert read_internal(run)[1]["source"] == "live"  # the live record wins over the derived file


@pytest.mark.slow
def test_steering_changes_generation_and_shifts_the_reading_at_its_layer(small_vectors):
    import torch
    from testbed.whitebox import weights
    from testbed.whitebox.hooks import Capture
    from testbed.whitebox.provider import prompt_ids, steering
    from testbed.whitebox.validate import PROMPT
    loaded = weights.load("local-small-hf")
    vecs = V.EmotionVectors.load(small_vectors)
    ids = torch.tensor([prompt_ids(loaded.tokenizer, PROMPT)])

    def read(alpha: float) -> tuple[str, float]:
        torch.manual_seed(0)
        with steering(loaded, vecs, {"desperate": alpha}, range(vecs.layer, vecs.layer + 1)), \
                Capture(loaded.model, [vecs.layer + 1]) as cap, torch.no_grad():
            out = loaded.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=24,
                                        do_sample=False, pad_token_id=loaded.tokenizer.eos_token_id)
        z = vecs.z(cap.positions(vecs.layer + 1).numpy(), "desperate", vecs.layer + 1)
        return loaded.tokenizer.decode(out[0][ids.shape[1]:]), float(z[: ids.shape[1]].mean())

    text0, z0 = read(0.0)
    text8, z8 = read(8.0)
    textm, zm = read(-8.0)
    assert text8 != text0
    # the next layer reads more of the vector when it is added, less when it is subtracted
    assert zm < z0 < z8


@pytest.mark.slow
def test_the_prefix_cache_reads_and_generates_what_a_full_pass_does():
    """A turn's prompt extends the last one: run only the new tokens, get the same residuals and,
    greedy, the same reply as a pass over the whole context."""
    import torch
    from testbed.models import assets
    from testbed.whitebox import weights
    from testbed.whitebox.cache import PrefixCache
    from testbed.whitebox.hooks import Capture
    if assets.ready("local-small") is None:
        pytest.skip("the local-small model is not set up (make setup-test)")
    loaded = weights.load("local-small-hf")
    tok, model = loaded.tokenizer, loaded.model
    first = tok("The tests failed again. I will read the parser first.", add_special_tokens=False)["input_ids"]
    second = first + tok(" They still fail: 250ms does not parse. Next I", add_special_tokens=False)["input_ids"]
    layer = 10
    cache = PrefixCache()
    assert cache.forward(model, first, keep_from=len(first) - 1) == 0
    with Capture(model, [layer]) as cap:
        start = cache.forward(model, second, keep_from=len(second) - 3)
    assert start == len(first)  # only the new tokens were run
    cached = cap.positions(layer).numpy()
    with Capture(model, [layer]) as cap, torch.no_grad():
        model(input_ids=torch.tensor([second]))
    full = cap.positions(layer).numpy()[start:]
    assert cached.shape == full.shape and np.abs(cached - full).max() < 1e-3
    # the shared prefix stops where the sequences differ, and never past keep_from
    past, start = cache.reuse(first[:5] + [first[5] + 1] + first[6:], keep_from=100)
    assert start == 5 and past.get_seq_length() == 5
    # generation from the cropped cache equals generation from scratch
    ids = torch.tensor([second])
    with torch.no_grad():
        plain = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                               pad_token_id=tok.eos_token_id)
        cache.forward(model, first, keep_from=len(first) - 1)
        past, start = cache.reuse(second, keep_from=len(second) - 1)
        reused = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                                pad_token_id=tok.eos_token_id, cache=past)
    assert start == len(first) and reused[0].tolist() == plain[0].tolist()
