"""Emotion vectors by the published recipe (Sofroniew et al., "Emotion Concepts and their Function
in a Large Language Model", Transformer Circuits, 2026), on a small shipped corpus.

1. Texts in which an emotion is implied but never named (testbed/whitebox/data/emotions.json; a
   test checks that no text names its emotion), each read as the assistant's reply in the model's
   chat template; the residual stream is averaged over the reply's tokens, at every layer.
2. Per layer, an emotion's direction is its class mean minus the mean of all class means (neutral
   included); the top principal components of neutral text (enough to explain half its variance)
   are projected out, since they carry topic and format, not emotion; the result is a unit vector.
3. Held-out accuracy by seeded 5-fold cross-validation: per layer and emotion, the balanced accuracy
   of "this emotion vs the rest" on each fold's texts, scored by vectors and a threshold fitted
   without them (the saved vectors are then fitted on every text). A random
   unit direction (confounds projected out the same way) goes through the same test as a control,
   and is kept as the `random` vector for monitoring and steering controls.
4. The chosen layer maximises the mean held-out accuracy over the emotions (ties: nearest 2/3 depth).

Projections are reported in standard units: (h · direction − neutral mean) / within-class spread,
so 0 reads as neutral text and 1 as one typical spread towards the emotion; steering by α adds
α × spread × direction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from testbed.models.assets import sha256_file

CORPUS = Path(__file__).with_name("data") / "emotions.json"
EMOTIONS = ("desperate", "frustrated", "calm")
RANDOM = "random"
PROMPT = "Tell me, in a sentence or two, where things stand with your work."
FOLDS = 5
VECTORS_FILE, META_FILE, PLOT_FILE = "vectors.npz", "vectors.json", "accuracy.png"


@dataclass
class EmotionVectors:
    names: list[str]
    directions: dict[str, np.ndarray]  # name → (layers, hidden) unit vectors
    scale: dict[str, np.ndarray]       # name → (layers,) within-class spread of projections
    baseline: dict[str, np.ndarray]    # name → (layers,) mean projection of neutral text
    layer: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return str(self.meta.get("sha256", ""))

    def z(self, hidden: np.ndarray, name: str, layer: int | None = None) -> np.ndarray:
        """Projections of (n, hidden) activations in standard units."""
        layer = self.layer if layer is None else layer
        raw = hidden @ self.directions[name][layer]
        return (raw - self.baseline[name][layer]) / self.scale[name][layer]

    def addition(self, name: str, alpha: float, layer: int) -> np.ndarray:
        return alpha * self.scale[name][layer] * self.directions[name][layer]

    def save(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for n in self.names:
            arrays[f"{n}.direction"] = self.directions[n].astype(np.float32)
            arrays[f"{n}.scale"] = self.scale[n].astype(np.float32)
            arrays[f"{n}.baseline"] = self.baseline[n].astype(np.float32)
        np.savez(out / VECTORS_FILE, **arrays)
        meta = {**self.meta, "names": self.names, "layer": self.layer,
                "sha256": sha256_file(out / VECTORS_FILE)}
        (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        self.meta = meta

    @classmethod
    def load(cls, path: str | Path) -> "EmotionVectors":
        d = Path(path)
        if not (d / META_FILE).is_file() or not (d / VECTORS_FILE).is_file():
            raise ValueError(f"{d}: not a vectors directory (no {META_FILE} / {VECTORS_FILE}); "
                             "make one with `testbed vectors build`")
        meta = json.loads((d / META_FILE).read_text())
        if meta.get("sha256") != sha256_file(d / VECTORS_FILE):
            raise ValueError(f"{d}/{VECTORS_FILE} does not match the sha256 in {META_FILE}")
        with np.load(d / VECTORS_FILE) as z:
            names = list(meta["names"])
            return cls(names, {n: z[f"{n}.direction"] for n in names}, {n: z[f"{n}.scale"] for n in names},
                       {n: z[f"{n}.baseline"] for n in names}, int(meta["layer"]), meta)


def load_corpus(path: Path = CORPUS) -> dict[str, list[str]]:
    data = json.loads(path.read_text())
    return {k: list(v) for k, v in data["texts"].items()}


def corpus_sha256(path: Path = CORPUS) -> str:
    return sha256_file(path)


# -- activations ------------------------------------------------------------------------------
def reply_activations(loaded: Any, texts: list[str], prompt: str = PROMPT) -> np.ndarray:
    """(texts, layers, hidden): the residual stream after every layer, averaged over each text's
    tokens read as the assistant's reply."""
    import torch
    tok, model = loaded.tokenizer, loaded.model
    head = _prompt_ids(tok, prompt)
    out = np.zeros((len(texts), loaded.layers, loaded.hidden), dtype=np.float32)
    device = next(model.parameters()).device
    with torch.no_grad():
        for i, text in enumerate(texts):
            body = tok(text, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([head + body], device=device)
            hs = model(input_ids=ids, output_hidden_states=True).hidden_states
            stacked = torch.stack([h[0, len(head):] for h in hs[1:]])  # (layers, tokens, hidden)
            out[i] = stacked.float().mean(dim=1).cpu().numpy()
    return out


def _prompt_ids(tok: Any, prompt: str) -> list[int]:
    ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                  tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return [int(i) for i in ids]


# -- the recipe -------------------------------------------------------------------------------
def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    """k disjoint, seeded index sets covering range(n)."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[i::k]) for i in range(k)]


def confounds(neutral: np.ndarray, share: float = 0.5) -> np.ndarray:
    """(k, hidden) orthonormal top principal components of neutral activations explaining `share`."""
    centred = neutral - neutral.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    var = s ** 2
    if var.sum() <= 0:
        return np.zeros((0, neutral.shape[1]), dtype=neutral.dtype)
    k = int(np.searchsorted(np.cumsum(var) / var.sum(), share) + 1)
    return vt[:k]


def _project_out(v: np.ndarray, basis: np.ndarray) -> np.ndarray:
    return v - basis.T @ (basis @ v) if len(basis) else v


def balanced_accuracy(scores_pos: np.ndarray, scores_neg: np.ndarray, threshold: float) -> float:
    return float(((scores_pos > threshold).mean() + (scores_neg <= threshold).mean()) / 2)


def fit_layer(train: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[dict[str, Any], int]:
    """{name: (unit direction, threshold, spread, neutral baseline)} for one layer's training texts,
    and how many confound directions were projected out."""
    classes = list(train)
    means = {c: train[c].mean(axis=0) for c in classes}
    grand = np.mean([means[c] for c in classes], axis=0)
    basis = confounds(train["neutral"])
    raw = {e: means[e] - grand for e in EMOTIONS}
    raw[RANDOM] = rng.standard_normal(grand.shape[0])
    fitted: dict[str, Any] = {}
    for name, r in raw.items():
        v = _project_out(r, basis)
        v = v / (np.linalg.norm(v) or 1.0)
        target = "desperate" if name == RANDOM else name
        pos, neg = _split_scores(train, target, v)
        if name == RANDOM and pos.mean() < neg.mean():
            v, pos, neg = -v, -pos, -neg  # the control gets its best sign, as a fitted vector would
        spread = float(np.mean([np.std(train[c] @ v) for c in classes])) or 1.0
        fitted[name] = (v, (pos.mean() + neg.mean()) / 2, spread, float(np.mean(train["neutral"] @ v)))
    return fitted, len(basis)


def build(acts: dict[str, np.ndarray], seed: int = 0, k: int = FOLDS) -> tuple[EmotionVectors, dict[str, Any]]:
    """Vectors (fitted on every text) and per-layer held-out accuracy (k-fold cross-validation:
    each fold's texts scored by vectors fitted without them)."""
    missing = [c for c in (*EMOTIONS, "neutral") if c not in acts]
    if missing:
        raise ValueError(f"the corpus lacks {', '.join(missing)}")
    classes = [*EMOTIONS, "neutral"]
    layers, hidden = acts["neutral"].shape[1:]
    rng = np.random.default_rng(seed + 1000)
    names = [*EMOTIONS, RANDOM]
    split = {c: folds(len(acts[c]), k, seed + i) for i, c in enumerate(classes)}
    accuracy: dict[str, list[float]] = {n: [] for n in names}
    dirs = {n: np.zeros((layers, hidden), np.float32) for n in names}
    scale = {n: np.ones(layers, np.float32) for n in names}
    base = {n: np.zeros(layers, np.float32) for n in names}
    n_confounds: list[int] = []
    for layer in range(layers):
        per_fold: dict[str, list[float]] = {n: [] for n in names}
        for f in range(k):
            train = {c: np.delete(acts[c][:, layer], split[c][f], axis=0) for c in classes}
            test = {c: acts[c][split[c][f], layer] for c in classes}
            fitted, _ = fit_layer(train, rng)
            for name, (v, threshold, _, _) in fitted.items():
                target = "desperate" if name == RANDOM else name
                per_fold[name].append(balanced_accuracy(*_split_scores(test, target, v), threshold))
        for name in names:
            accuracy[name].append(float(np.mean(per_fold[name])))
        fitted, n_basis = fit_layer({c: acts[c][:, layer] for c in classes}, rng)
        n_confounds.append(n_basis)
        for name, (v, _, spread, baseline) in fitted.items():
            dirs[name][layer], scale[name][layer], base[name][layer] = v, spread, baseline
    mean_acc = np.mean([accuracy[e] for e in EMOTIONS], axis=0)
    target_depth = 2 * (layers - 1) / 3
    chosen = int(max(range(layers), key=lambda i: (round(float(mean_acc[i]), 6), -abs(i - target_depth))))
    figures = {"accuracy": accuracy, "mean_accuracy": [float(a) for a in mean_acc], "layer": chosen,
               "at_layer": {n: accuracy[n][chosen] for n in names},
               "confounds_per_layer": n_confounds, "seed": seed, "folds": k,
               "texts": {c: len(acts[c]) for c in classes}}
    return EmotionVectors(names, dirs, scale, base, chosen), figures


def _split_scores(by_class: dict[str, np.ndarray], target: str, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = by_class[target] @ v
    neg = np.concatenate([by_class[c] @ v for c in by_class if c != target])
    return pos, neg


def plot(figures: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    for name, acc in figures["accuracy"].items():
        ax.plot(range(len(acc)), acc, label=name, linestyle="--" if name == RANDOM else "-")
    ax.axvline(figures["layer"], color="grey", linewidth=0.8)
    ax.axhline(0.5, color="grey", linewidth=0.5, linestyle=":")
    ax.set_ylim(0.3, 1.02)
    ax.set_xlabel("layer")
    ax.set_ylabel("held-out balanced accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def build_from_model(loaded: Any, out: Path, seed: int = 0, corpus: Path = CORPUS,
                     log: Any = print) -> tuple[EmotionVectors, dict[str, Any]]:
    texts = load_corpus(corpus)
    acts = {}
    for c, items in texts.items():
        log(f"  reading {len(items)} {c} texts")
        acts[c] = reply_activations(loaded, items)
    vectors, figures = build(acts, seed)
    vectors.meta = {"model": loaded.identity, "corpus": str(corpus.name), "corpus_sha256": corpus_sha256(corpus),
                    "prompt": PROMPT, "recipe": "class mean - mean of class means; neutral PCs (50 % "
                    "variance) projected out; unit norm", "figures": figures}
    vectors.save(out)
    plot(figures, out / PLOT_FILE, f"{loaded.source}: held-out accuracy per layer (chosen {figures['layer']})")
    return vectors, figures
