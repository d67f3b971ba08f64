"""`testbed classify tone --jsonl FILE|-` — each input line (with `text`, optionally `thinking`)
comes back with `"tone": {"level", "p_frustrated", "flags", "evidence", "tiers", ...}`, in order."""
from __future__ import annotations

import argparse
import sys


def register(verbs: argparse._SubParsersAction) -> None:
    from testbed.scoring.tone.classifier import TIERS
    p = verbs.add_parser("tone", help="frustration in narration text (0-3 level, p_frustrated, flags)")
    p.add_argument("--jsonl", required=True, metavar="FILE", help="input JSONL with a `text` field ('-' for stdin)")
    p.add_argument("--tier", choices=TIERS, default="ensemble", help="report one tier instead of the ensemble")
    p.add_argument("--tiers", default=None, metavar="A,B",
                   help="ensemble members (default lexicon,static; add minilm for the transformer tier)")
    p.add_argument("--judge", default=None, metavar="SPEC",
                   help="LLM judge: openai-compatible:BASE_URL:MODEL, openai:MODEL or anthropic:MODEL "
                        "(default: $TESTBED_TONE_JUDGE)")
    p.add_argument("--batch-size", type=int, default=512, help="lines classified together (default 512)")
    p.set_defaults(func=run)


def build_classifier(tiers: str | None, tier: str, judge_spec: str | None):
    """The classifier a command asked for; bad flags become UsageError."""
    from testbed.cli import UsageError
    from testbed.scoring.tone.classifier import DEFAULT_MEMBERS, ToneClassifier
    from testbed.scoring.tone.judge import JudgeSpecError, judge_from_env
    from testbed.scoring.tone.scorer import _members_from_env
    members = tuple(t.strip() for t in tiers.split(",") if t.strip()) if tiers else \
        (_members_from_env() or DEFAULT_MEMBERS)
    if tier in ("static", "minilm") and tier not in members:
        members = (*members, tier)
    if "lexicon" not in members:
        members = ("lexicon", *members)
    try:
        judge = judge_from_env(judge_spec) if (judge_spec or tier in ("judge", "ensemble")) else None
    except JudgeSpecError as exc:
        raise UsageError(str(exc)) from None
    if tier == "judge" and judge is None:
        raise UsageError("--tier judge needs --judge SPEC (or TESTBED_TONE_JUDGE)")
    try:
        clf = ToneClassifier(members, judge=judge)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if tier in ("static", "minilm") and tier not in clf.members:
        raise UsageError(f"tier {tier!r} unavailable here: {clf.unavailable.get(tier, 'not loaded')}")
    return clf


def run(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.commands.jsonl_io import JsonlInputError, emit, iter_objects, open_input

    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    fh = open_input(args.jsonl)  # a missing file is reported before any model loads
    clf = build_classifier(args.tiers, args.tier, args.judge)
    name = "<stdin>" if args.jsonl == "-" else args.jsonl
    batch: list[dict] = []

    def flush() -> None:
        texts = [o["text"] for o in batch]
        thinking = [o.get("thinking") if isinstance(o.get("thinking"), str) else None for o in batch]
        results = clf.classify(texts, args.tier)
        extra = [i for i, t in enumerate(thinking) if t and t.strip()]
        th = clf.classify([thinking[i] for i in extra], args.tier) if extra else []
        th_by = dict(zip(extra, th))
        for i, (obj, r) in enumerate(zip(batch, results)):
            if "thinking" in obj:
                r = {**r, "thinking": th_by.get(i)}
            emit({**obj, "tone": r if args.tier == "ensemble" else {**r, "tier": args.tier}})
        sys.stdout.flush()
        batch.clear()

    try:
        for _, obj in iter_objects(fh, name, "text"):
            batch.append(obj)
            if len(batch) >= args.batch_size:
                flush()
    except JsonlInputError:
        flush()  # everything before the bad line is written, then the error
        raise
    flush()
    return 0
