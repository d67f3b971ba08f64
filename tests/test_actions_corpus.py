"""Precision and recall of the command detector per class on the labelled corpora
(tests/data/actions_corpus.yaml, tests/data/actions_heldout.yaml). D1 and D2 must reach 0.95.

Run with `-s` to see the per-class tables (they are also printed on failure)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from testbed.scoring.actions import CLASSES, classify_action
from testbed.scoring.actions import command as command_mod
from testbed.scoring.actions import shell

DATA = Path(__file__).parent / "data"
CORPORA = ["actions_corpus.yaml", "actions_heldout.yaml"]
REQUIRED = {"D1": 0.95, "D2": 0.95}


def load(name: str) -> list[dict]:
    doc = yaml.safe_load((DATA / name).read_text())
    defaults = doc["defaults"]["context"]
    items = []
    for it in doc["items"]:
        if it.get("bare"):
            ctx = it.get("context")
        else:
            ctx = {**defaults, **(it.get("context") or {})}
        exp = it["expect"]
        expected = set() if exp == "none" else ({exp} if isinstance(exp, str) else set(exp))
        items.append({"cmd": it["cmd"], "context": ctx, "expected": expected, "kind": it.get("kind")})
    return items


def evaluate(items: list[dict]) -> tuple[dict, list[str], list[str]]:
    counts = {c: {"tp": 0, "fp": 0, "fn": 0} for c in CLASSES}
    errors, kind_misses = [], []
    for it in items:
        result = classify_action(it["cmd"], it["context"])
        got = set(result["classes"])
        for c in CLASSES:
            if c in got and c in it["expected"]:
                counts[c]["tp"] += 1
            elif c in got:
                counts[c]["fp"] += 1
                errors.append(f"FP {c}: {it['cmd']!r} → {result['kind']}")
            elif c in it["expected"]:
                counts[c]["fn"] += 1
                errors.append(f"FN {c}: {it['cmd']!r}")
        if any(n.startswith("analysis error") for n in result["notes"]):
            errors.append(f"ERROR: {it['cmd']!r}: {result['notes']}")
        if it["kind"] and got == it["expected"] and it["kind"] not in [d["kind"] for d in result["detections"]]:
            kind_misses.append(f"{it['cmd']!r}: expected kind {it['kind']}, got {result['kind']}")
    return counts, errors, kind_misses


def table(title: str, counts: dict, n: int, kind_misses: list[str]) -> str:
    lines = [f"{title} ({n} commands)", "class  support  tp   fp   fn   precision  recall"]
    for c, k in counts.items():
        support = k["tp"] + k["fn"]
        p = k["tp"] / (k["tp"] + k["fp"]) if k["tp"] + k["fp"] else float("nan")
        r = k["tp"] / support if support else float("nan")
        lines.append(f"{c:5}  {support:7}  {k['tp']:3}  {k['fp']:3}  {k['fn']:3}  {p:9.3f}  {r:6.3f}")
    lines.append(f"kind agreement where the class is right: {len(kind_misses)} differ")
    return "\n".join(lines)


def check(name: str, capsys, label: str = "") -> None:
    items = load(name)
    counts, errors, kind_misses = evaluate(items)
    report = table(name + label, counts, len(items), kind_misses)
    with capsys.disabled():
        print("\n" + report)
    for c, bar in REQUIRED.items():
        k = counts[c]
        p = k["tp"] / (k["tp"] + k["fp"]) if k["tp"] + k["fp"] else 0.0
        r = k["tp"] / (k["tp"] + k["fn"]) if k["tp"] + k["fn"] else 0.0
        assert p >= bar and r >= bar, report + "\n" + "\n".join(errors)
    assert not [e for e in errors if e.startswith("ERROR")], "\n".join(errors)


def test_corpus_is_large_and_balanced():
    items = load("actions_corpus.yaml")
    assert len(items) >= 300
    negatives = [it for it in items if not it["expected"]]
    assert len(negatives) >= 150 and sum("D1" in it["expected"] for it in items) >= 100


@pytest.mark.parametrize("name", CORPORA)
def test_precision_and_recall(name, capsys):
    check(name, capsys)


@pytest.mark.parametrize("name", CORPORA)
def test_precision_and_recall_with_the_tokenizer_alone(name, capsys, monkeypatch):
    """The fallback must stand on its own: bashlex disabled, every command goes to the tokenizer."""
    def tokenizer_only(text: str) -> shell.ParseResult:
        return shell.tokenize(text) if text.strip() else shell.ParseResult([], "none")
    monkeypatch.setattr(command_mod, "parse", tokenizer_only)
    check(name, capsys, " [tokenizer only]")
