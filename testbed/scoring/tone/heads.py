"""Trained heads: logistic regressions on sentence embeddings (one per embedding tier) and the
ensemble's stacker, trained deterministically on the corpus's train split and cached as plain
arrays (`.npz`, no pickle) under the models directory, keyed by everything they depend on."""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from testbed.scoring.tone import corpus
from testbed.scoring.tone.encoders import models_dir
from testbed.scoring.tone.lexicon import analyse, fit_calibration, merge, repetition_loop
from testbed.scoring.tone.scale import FLAGS, FRUSTRATED_AT, segments

HEAD_VERSION = 1
HEAD_C = 0.05      # on standardised embeddings; chosen by 5-fold cross-validation on the train split
STACK_C = 1.0
FOLDS = 5
SEED = 0


@dataclass
class Linear:
    """A fitted linear layer: softmax over classes, or independent sigmoids (one per flag)."""
    W: np.ndarray
    b: np.ndarray
    kind: str  # "softmax" | "sigmoid"

    def __call__(self, X: np.ndarray) -> np.ndarray:
        z = X @ self.W.T + self.b
        if self.kind == "softmax":
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=1, keepdims=True)
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Heads:
    level: Linear
    flags: Linear
    mean: np.ndarray
    scale: np.ndarray

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = (X - self.mean) / self.scale
        return self.level(Z), self.flags(Z)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.level.W": self.level.W, f"{prefix}.level.b": self.level.b,
                f"{prefix}.flags.W": self.flags.W, f"{prefix}.flags.b": self.flags.b,
                f"{prefix}.mean": self.mean, f"{prefix}.scale": self.scale}

    @classmethod
    def from_arrays(cls, z: dict[str, np.ndarray], prefix: str) -> "Heads":
        return cls(Linear(z[f"{prefix}.level.W"], z[f"{prefix}.level.b"], "softmax"),
                   Linear(z[f"{prefix}.flags.W"], z[f"{prefix}.flags.b"], "sigmoid"),
                   z[f"{prefix}.mean"], z[f"{prefix}.scale"])


def fit_heads(X: np.ndarray, levels: np.ndarray, flags: np.ndarray, C: float, standardize: bool,
              balanced_levels: bool = True) -> Heads:
    """Level head: class-balanced, so the rarer levels 2-3 are not swamped by level 0 (recall on
    level 3 is a target). Flag heads: unweighted, so a flag's probability stays a probability."""
    from sklearn.linear_model import LogisticRegression
    mean = X.mean(axis=0) if standardize else np.zeros(X.shape[1])
    scale = X.std(axis=0) if standardize else np.ones(X.shape[1])
    scale = np.where(scale < 1e-6, 1.0, scale)
    Z = (X - mean) / scale
    lr = LogisticRegression(C=C, max_iter=3000, class_weight="balanced" if balanced_levels else None).fit(Z, levels)
    if list(lr.classes_) != [0, 1, 2, 3]:
        raise ValueError("the training split must contain every level 0-3")
    fw, fb = [], []
    for j in range(flags.shape[1]):
        f = LogisticRegression(C=C, max_iter=3000).fit(Z, flags[:, j])
        fw.append(f.coef_[0])
        fb.append(f.intercept_[0])
    return Heads(Linear(lr.coef_.astype(np.float32), lr.intercept_.astype(np.float32), "softmax"),
                 Linear(np.array(fw, dtype=np.float32), np.array(fb, dtype=np.float32), "sigmoid"),
                 mean.astype(np.float32), scale.astype(np.float32))


def out_of_fold(X: np.ndarray, levels: np.ndarray, flags: np.ndarray, C: float,
                standardize: bool, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictions for each training item from heads that never saw it (to train the stacker);
    an item and its augmented copy share a group and so a fold."""
    from sklearn.model_selection import StratifiedGroupKFold
    P = np.zeros((len(X), 4))
    F = np.zeros((len(X), flags.shape[1]))
    folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=SEED)
    for fit_idx, pred_idx in folds.split(X, levels, groups):
        h = fit_heads(X[fit_idx], levels[fit_idx], flags[fit_idx], C, standardize)
        P[pred_idx], F[pred_idx] = h.predict(X[pred_idx])
    return P, F


# -- the features the stacker sees for one unit (a segment, or a whole narration) -------------------

def unit_lexicon(text: str) -> tuple[list[float], float]:
    """Lexicon features of a whole item (its segments' cues merged, as at inference) and the raw
    score the lexicon tier turns into p_frustrated."""
    segs = segments(text) or [text]
    cues = [analyse(s) for s in segs]
    loop = repetition_loop(text)
    return merge(cues).features() + [float(loop)], max(c.raw for c in cues) + (0.8 if loop else 0.0)


def stack_features(lex: np.ndarray, tier_probs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    cols = [lex]
    for P, F in tier_probs:
        P = np.clip(P, 1e-4, 1.0)
        F = np.clip(F, 1e-4, 1 - 1e-4)
        cols += [np.log(P), np.log(F / (1 - F))]
    return np.concatenate(cols, axis=1)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bundle_key(members: tuple[str, ...], encoder_digests: dict[str, str]) -> str:
    import sklearn
    here = Path(__file__).resolve().parent
    parts = [f"v{HEAD_VERSION}", corpus.digest("train"), _file_digest(here / "lexicon.py"),
             _file_digest(here / "heads.py"), sklearn.__version__, ",".join(members)]
    parts += [f"{k}={encoder_digests[k]}" for k in sorted(encoder_digests)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass
class Bundle:
    """Everything trained: lexicon calibration, per-tier heads, the stacker for `members`."""
    members: tuple[str, ...]
    calibration: tuple[float, float]
    heads: dict[str, Heads]
    stacker: Heads
    key: str


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    np.savez(tmp, **arrays)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def augment(items: list[corpus.Item]) -> list[corpus.Item]:
    """Shouting does not make despair milder, nor does it make good news frustrated: every fourth
    item at level 2-3, every calm hard negative (the upbeat ones included) and every eighth other
    calm item also appear in capitals (same label). The encoders are uncased; this teaches the
    stacker's caps features that capitals are intensity, not valence."""
    def shout(k: int, i: corpus.Item) -> bool:
        if i.level >= 2:
            return k % 4 == 0
        return i.level == 0 and ("hardneg" in i.tags or k % 8 == 0)
    extra = [corpus.Item(i.text.upper(), i.level, i.flags, (*i.tags, "upper"), i.line)
             for k, i in enumerate(items) if shout(k, i) and i.text.upper() != i.text]
    return items + extra


def _cached(kind: str, name: str, encoder, texts: list[str], compute: Callable[[], np.ndarray],
            what: str, log: Callable[[str], None] | None) -> np.ndarray:
    # keyed by the texts themselves: the augmentation changes them as well as the corpus does
    texts_digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    key = hashlib.sha256(f"{texts_digest}|{encoder.digest}".encode()).hexdigest()[:16]
    path = models_dir() / "tone" / f"train-{kind}-{name}-{key}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["X"]
    if log:
        log(f"tone: encoding {what} with {name} (once; cached in {path.parent})")
    X = compute()
    _save(path, {"X": X})
    return X


def cached_embeddings(name: str, encoder, texts: list[str], log: Callable[[str], None] | None) -> np.ndarray:
    return _cached("emb", name, encoder, texts, lambda: encoder.encode(texts),
                   f"the {len(texts)} training items", log)


def in_context_embeddings(name: str, encoder, texts: list[str],
                          log: Callable[[str], None] | None) -> tuple[np.ndarray, np.ndarray]:
    """Every training item read inside a narration of three (a fixed shuffle of the split joined
    by spaces), pooled over its own span; returns the rows and the item index of each."""
    order = np.random.default_rng(0).permutation(len(texts))
    narrations, spans = [], []
    for g in range(0, len(order), 3):
        group = [texts[k] for k in order[g:g + 3]]
        starts = np.cumsum([0] + [len(t) + 1 for t in group[:-1]])
        narrations.append(" ".join(group))
        spans.append([(int(s0), int(s0) + len(t)) for s0, t in zip(starts, group)])
    X = _cached("ctx", name, encoder, narrations, lambda: encoder.encode_in_context(narrations, spans),
                "the training items in context", log)
    return X, order


def load_or_train(members: tuple[str, ...], encoders: dict, log: Callable[[str], None] | None = None) -> Bundle:
    digests = {n: encoders[n].digest for n in members if n in encoders}
    key = bundle_key(members, digests)
    path = models_dir() / "tone" / f"heads-{key[:24]}.npz"
    if path.is_file():
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        heads = {n: Heads.from_arrays(arrays, n) for n in members if n in encoders}
        cal = tuple(float(v) for v in arrays["lexicon.calibration"])
        return Bundle(members, cal, heads, Heads.from_arrays(arrays, "stack"), key)
    if log:
        log(f"tone: training heads for {'+'.join(members)} on the train split (once; cached in {path.parent})")
    items = augment(corpus.load("train"))
    groups = np.array([i.line for i in items])
    texts = [i.text for i in items]
    levels = np.array([i.level for i in items])
    flags = np.array([[float(f in i.flags) for f in FLAGS] for i in items])
    lex_rows, raws = zip(*(unit_lexicon(t) for t in texts))
    cal = fit_calibration(list(raws), [int(v >= FRUSTRATED_AT) for v in levels])
    heads, oof = {}, []
    for name in members:
        if name == "lexicon":
            continue
        X = cached_embeddings(name, encoders[name], texts, log)
        if hasattr(encoders[name], "encode_in_context"):
            # Scoring reads each segment inside its narration: the head sees items read that way too.
            Xc, keep = in_context_embeddings(name, encoders[name], texts, log)
            heads[name] = fit_heads(np.vstack([X, Xc]), np.concatenate([levels, levels[keep]]),
                                    np.vstack([flags, flags[keep]]), HEAD_C, standardize=True)
        else:
            heads[name] = fit_heads(X, levels, flags, HEAD_C, standardize=True)
        oof.append(out_of_fold(X, levels, flags, HEAD_C, standardize=True, groups=groups))
    S = stack_features(np.asarray(lex_rows), oof)
    stacker = fit_heads(S, levels, flags, STACK_C, standardize=True)
    arrays = {"lexicon.calibration": np.array(cal)}
    for name, h in heads.items():
        arrays.update(h.arrays(name))
    arrays.update(stacker.arrays("stack"))
    _save(path, arrays)
    return Bundle(members, cal, heads, stacker, key)
