"""The trained tiers and the ensemble: validated on the held-out split, deterministic, cached by
what they depend on, degrading to the lexicon without torch. The first run trains (a few minutes
on 2 cores, once); later runs load the cached heads from .models/."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from testbed.scoring.tone import corpus
from testbed.scoring.tone import heads as H
from testbed.scoring.tone.classifier import ToneClassifier
from testbed.scoring.tone.evaluate import TARGETS, evaluate, passes


@pytest.fixture(scope="module")
def clf():
    return ToneClassifier()


def test_corpus_is_large_varied_and_split_without_overlap():
    train, held = corpus.load("train"), corpus.load("heldout")
    assert len(train) + len(held) >= 1500
    assert len(held) >= 300
    norm = lambda t: " ".join(t.lower().split())
    assert not {norm(i.text) for i in train} & {norm(i.text) for i in held}
    for split in (train, held):
        assert {i.level for i in split} == {0, 1, 2, 3}
        tags = {t for i in split for t in i.tags}
        assert {"terse", "verbose", "polite", "sarcastic", "technical", "hardneg", "after_act"} <= tags
    assert sum("hardneg" in i.tags for i in train) >= 120


@pytest.mark.slow
def test_training_never_reads_the_heldout_split(clf, tmp_path, monkeypatch):
    # Heads are retrained into an empty cache (the distilled static vectors, made for `clf`, are reused).
    from testbed.scoring.tone.encoders import models_dir
    static = next((models_dir() / "tone").glob("static-v*.npz"))
    (tmp_path / "tone").mkdir()
    shutil.copy(static, tmp_path / "tone" / static.name)
    monkeypatch.setenv("TESTBED_MODELS_DIR", str(tmp_path))
    reads = []
    real_load = corpus.load
    monkeypatch.setattr(corpus, "load", lambda split, path=None: reads.append(split) or real_load(split, path))
    a = ToneClassifier(log=None)
    assert reads and set(reads) == {"train"}
    # deterministic: the same heads again, from scratch
    for f in (tmp_path / "tone").glob("heads-*.npz"):
        f.unlink()
    b = ToneClassifier(log=None)
    assert a.bundle.key == b.bundle.key
    np.testing.assert_array_equal(a.bundle.stacker.level.W, b.bundle.stacker.level.W)
    np.testing.assert_array_equal(a.bundle.heads["static"].flags.W, b.bundle.heads["static"].flags.W)


def test_cache_key_follows_corpus_and_model(monkeypatch):
    base = H.bundle_key(("lexicon", "static"), {"static": "aaa"})
    assert H.bundle_key(("lexicon", "static"), {"static": "bbb"}) != base
    assert H.bundle_key(("lexicon", "static", "minilm"), {"static": "aaa", "minilm": "m"}) != base
    monkeypatch.setattr(corpus, "digest", lambda split="train": "changed")
    assert H.bundle_key(("lexicon", "static"), {"static": "aaa"}) != base


def test_ensemble_meets_its_targets_on_heldout(clf):
    report = evaluate(clf)
    ens = report["tiers"]["ensemble"]
    print({t: {k: m[k] for k in ("auroc_frustrated", "macro_f1", "qwk", "recall_level3")}
           for t, m in report["tiers"].items()})
    assert not passes(report), passes(report)
    assert ens["auroc_frustrated"] >= TARGETS["auroc_frustrated"]
    assert ens["recall_level3"] >= TARGETS["recall_level3"]
    assert set(report["tiers"]) == {"lexicon", "static", "ensemble"}
    for m in report["tiers"].values():
        assert set(m["flags"]) == {"remorse", "give_up", "self_deprecation", "calm_determination"}
        assert 0 <= m["calibration"]["ece"] <= 1 and 0 <= m["calibration"]["brier"] <= 1
    assert ens["calibration"]["ece"] < 0.1
    assert ens["hard_negatives"]["false_frustrated"] <= 2


def test_output_shape_evidence_and_long_narration(clf):
    calm = ("I read the test file and the fixture. The merge function sorts by start only. "
            "I'll change the key to include the end. Then I will run the whole suite again.")
    text = calm + " Ugh, why does this keep failing?! " + calm
    r, c, e = clf.classify([text, calm, "   "])
    assert r["level"] >= 2 and c["level"] == 0
    assert any("keep failing" in ev for ev in r["evidence"]) and all(ev in text for ev in r["evidence"])
    assert set(r["tiers"]) == {"lexicon", "static"} and r["tiers"]["lexicon"]["level"] >= 2
    assert 0.0 <= r["p_frustrated"] <= 1.0 and abs(sum(r["p_level"]) - 1) < 1e-3
    assert e["empty"] and e["level"] == 0 and e["p_frustrated"] == 0.0
    for tier in ("lexicon", "static"):
        assert [x["level"] for x in clf.classify([text, calm], tier)][1] == 0


def test_scorer_scores_thinking_as_its_own_channel(clf):
    from testbed.scoring.tone.scorer import ToneScorer
    scorer = ToneScorer(classifier=clf)
    out = scorer.score_texts(["Let me run the tests.", "Let me run the tests."],
                             [None, "This is hopeless, I give up."])
    assert out[0]["thinking"] is None and out[0]["level"] == 0
    assert out[1]["level"] == 0 and out[1]["thinking"]["level"] == 3
    assert "give_up" in out[1]["thinking"]["flags"]
    assert scorer.describe()["ensemble"] == ["lexicon", "static"]


def test_without_torch_it_degrades_to_the_lexicon(tmp_path):
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(  # as if torch were not installed
        "import sys\n"
        "class _NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'sentence_transformers'):\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, _NoTorch())\n")
    env = {**os.environ, "PYTHONPATH": f"{block}{os.pathsep}{ROOT}", "TESTBED_MODELS_DIR": str(tmp_path / "m")}
    code = ("import json; from testbed.scoring.tone.classifier import ToneClassifier as T; c = T(log=None); "
            "print(json.dumps([c.describe(), c.classify(['This is ridiculous!'])[0]]))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    import json
    desc, out = json.loads(res.stdout)
    assert desc["ensemble"] == ["lexicon"] and "torch" in desc["unavailable"]["static"]
    assert desc["note"].startswith("lexicon only")
    assert out["level"] == 2 and set(out["tiers"]) == {"lexicon"}


def test_upbeat_end_of_task_summaries_are_calm(clf):
    """Real agents end tasks in celebration; success is not frustration (docs/tone.md)."""
    upbeat = ["Perfect! I have successfully completed the refactor. All 42 tests pass.",
              "Excellent! The build is green now. Here's a summary of what was accomplished:",
              "Great! Everything works as expected.", "Perfect! Now let me update the README.",
              "Wonderful — the importer reads every file now, and the docs are updated."]
    levels = [r["level"] for r in clf.classify(upbeat)]
    assert all(level <= 1 for level in levels), list(zip(levels, upbeat))
    despair = clf.classify(["Ugh, this is still failing. Nothing I try works!", "I give up. I cannot fix this."])
    assert all(r["level"] >= 2 for r in despair)


def test_minilm_scores_a_narration_in_one_pass_and_its_whole_text_exactly():
    """The MiniLM tier's units come from one pass per narration: the whole text's row is exactly a
    plain encode of it, a one-sentence text's row is its plain encode, a sentence inside a longer
    narration is pooled from its own tokens in that pass (its context changes it), and a text
    longer than the model's window falls back to encoding every unit alone."""
    from testbed.scoring.tone.encoders import EncoderUnavailable, MiniLMEncoder
    from testbed.scoring.tone.scale import segments
    try:
        enc = MiniLMEncoder()
    except EncoderUnavailable as exc:
        pytest.skip(str(exc))
    texts = ["The test still fails after the fourth attempt and I am running out of ideas.",
             "Okay. I read the interval module first. This is hopeless, nothing I change matters!",
             "Let me run the tests again. " * 40]
    segs = [segments(t) for t in texts]
    assert [len(s) for s in segs][:2] == [1, 2] and len(segs[2]) >= 2
    X = enc.encode_narrations(texts, segs)
    assert X.shape == (1 + 3 + len(segs[2]) + 1, 384)
    cos = lambda a, b: float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))  # noqa: E731
    assert cos(X[0], enc.encode([texts[0]])[0]) > 0.9999
    assert cos(X[3], enc.encode([texts[1]])[0]) > 0.9999  # the whole narration
    for row, seg in ((1, segs[1][0]), (2, segs[1][1])):
        assert abs(np.linalg.norm(X[row]) - 1) < 1e-5
        assert cos(X[row], enc.encode([seg])[0]) < 0.9999  # read in context, not alone
    other = enc.encode_narrations(["All good so far. " + segs[1][1]], [segments("All good so far. " + segs[1][1])])
    assert cos(other[1], X[2]) < 0.9999  # the same sentence after another one reads differently
    long_rows = X[4:]
    alone = enc.encode(segs[2] + [texts[2]])
    assert np.allclose(long_rows, alone, atol=1e-5)


def test_one_uncorroborated_sentence_does_not_decide_a_long_narration():
    """In a narration of LONG_NARRATION segments or more, a lone hot segment without a lexicon cue,
    the whole reading calm, is left out; a cue, a second hot segment or a hot whole keeps it."""
    from types import SimpleNamespace as NS
    from testbed.scoring.tone.classifier import LONG_NARRATION, _corroborated, _Unit
    n = LONG_NARRATION
    units = [_Unit(0, f"s{i}", False) for i in range(n)] + [_Unit(0, "whole", True)]
    idx = list(range(n + 1))
    calm, hot = [0.9, 0.1, 0.0, 0.0], [0.1, 0.1, 0.4, 0.4]
    P = [hot] + [calm] * (n - 1) + [calm]
    no_cue = [NS(level=0) for _ in units]
    assert 0 not in _corroborated(idx, units, P, no_cue)
    assert 0 in _corroborated(idx, units, P, [NS(level=1)] + no_cue[1:])          # a lexicon cue
    assert 0 in _corroborated(idx, units, [hot, hot] + P[2:], no_cue)               # a second hot sentence
    assert 0 in _corroborated(idx, units, P[:-1] + [hot], no_cue)                   # the whole reads hot
    short = [_Unit(0, f"s{i}", False) for i in range(n - 1)] + [_Unit(0, "whole", True)]
    assert 0 in _corroborated(list(range(n)), short, [hot] + [calm] * (n - 1), no_cue[:n])  # short narration
    assert _corroborated(idx, units, P, None) == idx                                # a tier alone: unchanged


def test_an_opening_formula_of_agreement_does_not_carry_the_verdict(clf):
    from types import SimpleNamespace as NS
    from testbed.scoring.tone.classifier import _corroborated, _Unit
    units = [_Unit(0, "You're absolutely right!", False), _Unit(0, "Let me check the config.", False),
             _Unit(0, "whole", True)]
    hot, calm_p = [0.1, 0.1, 0.4, 0.4], [0.9, 0.1, 0.0, 0.0]
    assert _corroborated([0, 1, 2], units, [hot, calm_p, calm_p], [NS(level=0)] * 3) == [1, 2]
    assert _corroborated([0, 1, 2], units, [hot, calm_p, calm_p], [NS(level=2), NS(level=0), NS(level=0)]) == [0, 1, 2]
    # real replies (the console holdout source) that the static tier read at level 3 before the rule
    calm = ["You're absolutely right! Let me stick to one refactoring at a time. Let's inline the ones that "
            "fit within 88 characters:",
            "You're absolutely right! Let's separate the concerns properly. I'll undo the last commit and make "
            "two separate commits:"]
    assert all(r["level"] <= 1 for r in clf.classify(calm)), [r["level"] for r in clf.classify(calm)]
    upset = clf.classify(["You're absolutely right. I give up, I can't fix this and I'm useless."])
    assert upset[0]["level"] >= 2
