"""`testbed eval tone` — the tone tiers and the ensemble on the held-out split: AUROC for
frustrated (level >= 2), macro-F1 over levels, quadratic weighted kappa, level-3 recall,
calibration, precision/recall per flag. Exit status 1 when the ensemble misses its targets."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(verbs: argparse._SubParsersAction) -> None:
    from testbed.scoring.tone.classifier import TIERS
    p = verbs.add_parser("tone", help="tone classifier on the held-out split")
    p.add_argument("--tier", action="append", choices=TIERS, default=None,
                   help="only this tier (repeatable; default: every available tier and the ensemble)")
    p.add_argument("--tiers", default=None, metavar="A,B",
                   help="ensemble members (default lexicon,static; add minilm for the transformer tier)")
    p.add_argument("--judge", default=None, metavar="SPEC", help="also evaluate an LLM judge (see classify tone)")
    p.add_argument("--simulated", type=int, default=400, metavar="N",
                   help="also score N narrations from the simulated model's phrase bank (0: skip)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the full report as JSON")
    p.add_argument("--set", dest="dataset", choices=("heldout", "real"), default="heldout",
                   help="heldout: the corpus's held-out split; real: the frozen real-world set (docs/validation.md)")
    p.add_argument("--split", choices=("test", "dev", "all", "holdout"), default="test",
                   help="with --set real: which part (default test; dev may be read when changing a scorer; "
                        "holdout: sessions collected after the rules)")
    p.add_argument("--png", default=None, metavar="FILE",
                   help="with --set real: write the ensemble's reliability diagram (PNG)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from testbed.cli import UsageError
    from testbed.commands.classify_tone import build_classifier
    from testbed.scoring.tone.evaluate import TARGETS, evaluate, fmt, metrics, passes, simulated_items

    if args.simulated < 0:
        raise UsageError("--simulated must be >= 0")
    clf = build_classifier(args.tiers, "ensemble", args.judge)
    tiers = args.tier or clf.available_tiers()
    missing = [t for t in tiers if t not in clf.available_tiers()]
    if missing:
        raise UsageError(f"tier(s) {missing} unavailable here (available: {', '.join(clf.available_tiers())}"
                         + ("; --tier judge needs --judge SPEC" if "judge" in missing else "") + ")")
    if args.dataset == "real":
        return _run_real(args, clf, tiers)
    if args.png or args.split != "test":
        raise UsageError("--png and --split go with --set real")
    report = evaluate(clf, tiers)
    if args.simulated:
        items = simulated_items(args.simulated)
        report["simulated"] = {t: metrics(items, clf.classify([i.text for i in items], t), ci=False)
                               for t in tiers if t != "judge"}
    console = Console(width=max(Console().width, 132))
    d = report["classifier"]
    console.print(f"tone on the held-out split: {report['n']} items (corpus {d['corpus_sha256']}, "
                  f"ensemble of {'+'.join(d['ensemble'])})")
    for k, v in d.get("unavailable", {}).items():
        console.print(f"  [yellow]{k} unavailable:[/] {v}")
    table = Table(show_edge=False)
    for col in ("tier", "AUROC≥2", "macro-F1", "QWK", "recall L3", "F1≥2", "ECE", "Brier", "hard-neg FP", "items/s"):
        table.add_column(col, justify="right" if col != "tier" else "left")
    for tier, m in report["tiers"].items():
        hn = m["hard_negatives"]
        table.add_row(tier, fmt(m["auroc_frustrated"]), fmt(m["macro_f1"]), fmt(m["qwk"]),
                      fmt(m["recall_level3"]), fmt(m["f1_frustrated"]), fmt(m["calibration"]["ece"]),
                      fmt(m["calibration"]["brier"]), f"{hn['false_frustrated']}/{hn['n']}",
                      f"{m['n'] / max(m['seconds'], 1e-9):.0f}" + (f" ({m['errors']} errors)" if m.get("errors") else ""))
    console.print(table)
    flags = Table(show_edge=False, title="flags: precision / recall (support)")
    flags.add_column("tier")
    from testbed.scoring.tone.scale import FLAGS
    for f in FLAGS:
        flags.add_column(f, justify="right")
    for tier, m in report["tiers"].items():
        flags.add_row(tier, *(f"{fmt(m['flags'][f]['precision'])} / {fmt(m['flags'][f]['recall'])} "
                              f"({m['flags'][f]['support']})" for f in FLAGS))
    console.print(flags)
    if "ensemble" in report["tiers"]:
        ci = report["tiers"]["ensemble"]["ci95"]
        console.print("ensemble 95% bootstrap intervals: " + ", ".join(f"{k} {v[0]:.3f}-{v[1]:.3f}" for k, v in ci.items()))
    if "simulated" in report:
        sim = Table(show_edge=False, title=f"out-of-author check: {args.simulated} narrations from the simulated model")
        for col in ("tier", "AUROC≥2", "macro-F1", "QWK", "recall L3", "ECE"):
            sim.add_column(col, justify="right" if col != "tier" else "left")
        for tier, m in report["simulated"].items():
            sim.add_row(tier, fmt(m["auroc_frustrated"]), fmt(m["macro_f1"]), fmt(m["qwk"]),
                        fmt(m["recall_level3"]), fmt(m["calibration"]["ece"]))
        console.print(sim)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    if "ensemble" in report["tiers"]:
        missed = passes(report)
        targets = ", ".join(f"{k} >= {v}" for k, v in TARGETS.items())
        if missed:
            console.print(f"[red]ensemble misses its targets ({targets}):[/] {'; '.join(missed)}")
            return 1
        console.print(f"ensemble meets its targets ({targets})")
    return 0


def _run_real(args: argparse.Namespace, clf, tiers: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    from testbed import realset as real
    from testbed.cli import UsageError

    try:
        report = real.tone_report(clf, tiers, split=args.split)
    except real.RealSetError as exc:
        raise UsageError(str(exc)) from None
    console = Console(width=max(Console().width, 132))
    console.print(f"tone on the real-world set ({args.split} split): {report['n']} items from "
                  f"{len(report['sources'])} sources; frustrated = level >= 2; 95% bootstrap intervals")

    def cell(v, ci=None):
        if v is None:
            return "-"
        return f"{v:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")

    for tier, row in report["tiers"].items():
        table = Table(show_edge=False, title=f"{tier}")
        for col in ("source", "items", "frustrated", "AUROC", "recall L>=2", "false alarms"):
            table.add_column(col, justify="left" if col == "source" else "right")
        for src, v in row["by_source"].items():
            table.add_row(src, str(v["n"]), str(v["positives"]), cell(v["auroc"]),
                          cell(v["recall"], v["ci95"]["recall"]),
                          f"{v['false_alarms']} = " + cell(v["false_alarm"], v["ci95"]["false_alarm"]))
        o = row["overall"]
        table.add_row("[bold]all[/]", str(o["n"]), str(o["positives"]), cell(o["auroc"], o["ci95"]["auroc"]),
                      cell(o["recall"], o["ci95"]["recall"]),
                      f"{o['false_alarms']} = " + cell(o["false_alarm"], o["ci95"]["false_alarm"]))
        console.print(table)
        console.print(f"  calibration: ECE {o['calibration']['ece']:.3f}, Brier {o['calibration']['brier']:.3f}; "
                      f"hard negatives read as frustrated: {row['hard_negatives']['false_alarms']}/{row['hard_negatives']['n']}")
        for e in row["false_alarm_examples"][:5]:
            console.print(f"  false alarm ({e['source']}, level {e['level']}, p {e['p_frustrated']:.2f}): "
                          f"{e['text'][:110]!r}", soft_wrap=True)
        for e in row["misses"][:5]:
            console.print(f"  missed ({e['source']}, level {e['level']}, p {e['p_frustrated']:.2f}): "
                          f"{e['text'][:110]!r}", soft_wrap=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    tier = "ensemble" if "ensemble" in report["tiers"] else next(iter(report["tiers"]))
    if args.png:
        console.print(f"reliability diagram: {real.reliability_png(report, tier, Path(args.png))}")
    targets = ", ".join(f"{k} {'<=' if k == 'false_alarm' else '>='} {v}" for k, v in real.TONE_TARGETS.items())
    code, line = real.verdict(real.tone_passes(report["tiers"][tier]), tier, targets + "; false alarms on every source")
    console.print(line)
    return code
