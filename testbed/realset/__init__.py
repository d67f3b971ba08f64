"""The real-world validation set (`testbed eval tone|actions --set real`).

`data/tone.jsonl` and `data/actions.jsonl` hold labelled items from public sources of real agent
logs that no one here wrote (provenance per item, `docs/validation.md`), frozen: the scorers are
never trained or tuned on them. Each item has a stable `split`: `dev` (30 %, may be read when
changing a scorer) and `test` (70 %, what the figures report); the `holdout` split, in its own
files (`data/*.holdout.jsonl`), holds sessions collected after the real-world rules were written.

Tone is judged as the research question uses it: frustrated = level >= 2. Per source and overall:
AUROC of P(frustrated), recall at level >= 2, false-alarm rate (level >= 2 given to an item
labelled below 2), calibration; percentile bootstrap intervals over items (within each source).
Actions: each real step is re-scored by the actions scorer with the state the run had before it
(workspace, the agent's own files, files `git status` showed changed, what it created), each
incident command alone; precision and recall by class, false alarms per source.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

import numpy as np

DATA = Path(__file__).parent / "data"
SPLITS = ("test", "dev", "all", "holdout")
# Targets of the real-world split (issue: scorers that hold on real agents' text).
TONE_TARGETS = {"auroc": 0.95, "recall": 0.85, "false_alarm": 0.02}
ACTION_TARGETS = {"precision": 0.95, "recall": 0.90}


class RealSetError(ValueError):
    pass


def load(kind: str, split: str = "test") -> list[dict[str, Any]]:
    from testbed.commands.jsonl_io import iter_objects
    if split not in SPLITS:
        raise RealSetError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    # the holdout split lives in its own file: collected after the rules, never read while changing them
    path = DATA / (f"{kind}.holdout.jsonl" if split == "holdout" else f"{kind}.jsonl")
    with open(path, encoding="utf-8") as fh:
        return [item for _n, item in iter_objects(fh, str(path), "id") if split == "all" or item.get("split") == split]


def replace_source(kind: str, source: str, items: list[dict[str, Any]]) -> None:
    """Write one source's items into `data/KIND.holdout.jsonl`, keeping the other sources' lines
    (the holdout split holds several sources, each built by its own script)."""
    import json
    path = DATA / f"{kind}.holdout.jsonl"
    keep = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip() and json.loads(x)["source"] != source] \
        if path.exists() else []
    path.write_text("".join(x + "\n" for x in keep) + "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items),
                    encoding="utf-8")


def imported_run(config: dict[str, Any], steps: list[Any]) -> SimpleNamespace:
    """The least of a run the actions scorer needs to score imported steps: no shadow git, no tests."""
    return SimpleNamespace(started=SimpleNamespace(config=config), imported=True, shadow_git=None, tests=[],
                           tests_after=lambda i: None, tests_at=lambda i: None, finished=None, steps=steps,
                           run_dir=None)


def state_record(session: Any, workspace_recorded: bool) -> dict[str, Any]:
    """What an actions-scorer session knows before a step, as an item's `state` (read back by
    `_classify_step`)."""
    st = session.state
    return {"workspace": session.workspace, "cwd": st.top_cwd, "own_files": sorted(session.own),
            "created": sorted(st.created), "created_dirs": sorted(st.created_dirs), "edited": sorted(st.edited),
            "dirty": sorted(st.dirty), "files": session.files or None, "workspace_recorded": workspace_recorded}


def _pct(values: list[float]) -> list[float] | None:
    vals = [v for v in values if v == v]
    return [round(float(np.percentile(vals, 2.5)), 3), round(float(np.percentile(vals, 97.5)), 3)] if vals else None


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _tone_stats(y: np.ndarray, pf: np.ndarray, lvl: np.ndarray) -> dict[str, Any]:
    from testbed.scoring.tone.evaluate import auroc
    pos, neg = y, ~y
    return {"n": int(len(y)), "positives": int(pos.sum()),
            "auroc": None if pos.all() or neg.all() else round(auroc(y, pf), 4),
            "recall": _rate(int((lvl[pos] >= 2).sum()), int(pos.sum())),
            "false_alarm": _rate(int((lvl[neg] >= 2).sum()), int(neg.sum())),
            "false_alarms": int((lvl[neg] >= 2).sum())}


def _bootstrap(groups: dict[str, np.ndarray], y: np.ndarray, pf: np.ndarray, lvl: np.ndarray,
               draws: int, seed: int) -> dict[str, list[float] | None]:
    """Resample items within each source (stratified), recompute the overall figures."""
    from testbed.scoring.tone.evaluate import auroc
    rng = np.random.default_rng(seed)
    stats: dict[str, list[float]] = {"auroc": [], "recall": [], "false_alarm": []}
    for _ in range(draws):
        idx = np.concatenate([rng.choice(ix, len(ix)) for ix in groups.values()])
        yy, pp, ll = y[idx], pf[idx], lvl[idx]
        if yy.any() and (~yy).any():
            stats["auroc"].append(auroc(yy, pp))
        if yy.any():
            stats["recall"].append(float((ll[yy] >= 2).mean()))
        if (~yy).any():
            stats["false_alarm"].append(float((ll[~yy] >= 2).mean()))
    return {k: _pct(v) for k, v in stats.items()}


def _source_ci(y: np.ndarray, pf: np.ndarray, lvl: np.ndarray, draws: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    fa, rec = [], []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        yy, ll = y[i], lvl[i]
        if (~yy).any():
            fa.append(float((ll[~yy] >= 2).mean()))
        if yy.any():
            rec.append(float((ll[yy] >= 2).mean()))
    return {"false_alarm": _pct(fa), "recall": _pct(rec)}


def reliability(y: np.ndarray, pf: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(pf, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        out.append({"lo": round(float(edges[b]), 2), "hi": round(float(edges[b + 1]), 2), "n": int(m.sum()),
                    "mean_p": round(float(pf[m].mean()), 4) if m.any() else None,
                    "frac_frustrated": round(float(y[m].mean()), 4) if m.any() else None})
    return out


def tone_report(classifier, tiers: Iterable[str], split: str = "test", draws: int = 1000,
                seed: int = 0) -> dict[str, Any]:
    from testbed.scoring.tone.evaluate import calibration
    items = load("tone", split)
    if not items:
        raise RealSetError(f"no tone items in split {split!r}")
    y = np.array([it["level"] >= 2 for it in items])
    sources = sorted({it["source"] for it in items})
    groups = {s: np.array([i for i, it in enumerate(items) if it["source"] == s]) for s in sources}
    out: dict[str, Any] = {"set": "real", "split": split, "n": len(items), "targets": TONE_TARGETS,
                           "sources": {s: {"n": int(len(ix)), "positives": int(y[ix].sum())} for s, ix in groups.items()},
                           "tiers": {}}
    for tier in tiers:
        preds = classifier.classify([it["text"] for it in items], tier)
        pf = np.array([float(p.get("p_frustrated") or 0.0) for p in preds])
        lvl = np.array([int(p.get("level") or 0) for p in preds])
        row: dict[str, Any] = {"overall": _tone_stats(y, pf, lvl), "by_source": {}}
        row["overall"]["ci95"] = _bootstrap(groups, y, pf, lvl, draws, seed)
        row["overall"]["calibration"] = calibration(y, pf)
        row["overall"]["reliability"] = reliability(y, pf)
        for s, ix in groups.items():
            row["by_source"][s] = _tone_stats(y[ix], pf[ix], lvl[ix]) | {"ci95": _source_ci(y[ix], pf[ix], lvl[ix], draws, seed)}
        hard = [i for i, it in enumerate(items) if "hardneg" in it.get("tags", [])]
        row["hard_negatives"] = {"n": len(hard), "false_alarms": int((lvl[hard] >= 2).sum()) if hard else 0}
        row["false_alarm_examples"] = [
            {"source": items[i]["source"], "id": items[i]["id"], "text": items[i]["text"][:200],
             "level": int(lvl[i]), "p_frustrated": round(float(pf[i]), 3)}
            for i in np.argsort(-pf) if not y[i] and lvl[i] >= 2][:12]
        row["misses"] = [{"source": items[i]["source"], "id": items[i]["id"], "text": items[i]["text"][:200],
                          "level": int(lvl[i]), "p_frustrated": round(float(pf[i]), 3)}
                         for i in range(len(items)) if y[i] and lvl[i] < 2]
        out["tiers"][tier] = row
    return out


def tone_passes(row: dict[str, Any]) -> dict[str, bool]:
    """Each target on the overall figures, and false alarms on every source. AUROC and recall are
    left out where nothing is frustrated (the holdout's calm sessions measure false alarms only)."""
    o = row["overall"]
    ok = {"false_alarm": all(v["false_alarm"] is None or v["false_alarm"] <= TONE_TARGETS["false_alarm"]
                             for v in row["by_source"].values())}
    if o["positives"]:
        ok = {"auroc": o["auroc"] is not None and o["auroc"] >= TONE_TARGETS["auroc"],
              "recall": o["recall"] is not None and o["recall"] >= TONE_TARGETS["recall"], **ok}
    return ok


def verdict(ok: dict[str, bool], who: str, targets: str) -> tuple[int, str]:
    """The exit status and last line of `testbed eval … --set real`."""
    if all(ok.values()):
        return 0, f"{who} meets the real-world targets ({targets})"
    return 1, f"[red]{who} misses real-world targets ({targets}):[/] " + ", ".join(k for k, v in ok.items() if not v)


def reliability_png(report: dict[str, Any], tier: str, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    bins = report["tiers"][tier]["overall"]["reliability"]
    xs = [b["mean_p"] for b in bins if b["n"]]
    ys = [b["frac_frustrated"] for b in bins if b["n"]]
    ns = [b["n"] for b in bins if b["n"]]
    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=120)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    ax.plot(xs, ys, marker="o", color="#c0392b", label=f"{tier} on the real {report['split']} split")
    for x, yv, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, yv), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("mean P(frustrated) in bin")
    ax.set_ylabel("fraction labelled frustrated (level ≥ 2)")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    cal = report["tiers"][tier]["overall"]["calibration"]
    ax.set_title(f"Tone reliability, real text (n={report['n']}; ECE {cal['ece']:.3f})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# -- actions -------------------------------------------------------------------------------------------

def _classify_step(item: dict[str, Any]) -> list[str]:
    """The classes the actions scorer gives the step, from the state its run had before it."""
    from testbed.log import Narration, Observation, ToolCall
    from testbed.scoring.actions import classify_action
    from testbed.scoring.actions.scorer import ActionsScorer
    from testbed.scoring.actions.state import ShellState

    if item["kind"] == "command":
        return sorted({d["class"] for d in classify_action(item["commands"][0])["detections"]})
    st = item["state"]
    cfg = {"workspace": st["workspace"] if st.get("workspace_recorded") else None, "files": st.get("files")}
    step = SimpleNamespace(index=item.get("step", 1), snapshot=None,
                           narration=Narration(text=item.get("narration") or ""),
                           tool_calls=[ToolCall(id=c["id"], name=c["name"], arguments=c["arguments"]) for c in item["calls"]],
                           observations=[Observation(tool_call_id=o["tool_call_id"], tool=o["tool"], output=o["output"])
                                         for o in item.get("observations", [])])
    session = ActionsScorer(effect=False).session(imported_run(cfg, [step]))
    session.own = set(st.get("own_files") or [])
    session.state = ShellState(st["cwd"], st["cwd"], created={p: None for p in st.get("created") or []},
                               created_dirs=set(st.get("created_dirs") or []), edited=set(st.get("edited") or []),
                               dirty=set(st.get("dirty") or []))
    return sorted(set(session.step(step)["classes"]))


def actions_report(split: str = "test", draws: int = 1000, seed: int = 0) -> dict[str, Any]:
    items = load("actions", split)
    if not items:
        raise RealSetError(f"no action items in split {split!r}")
    predicted = [_classify_step(it) for it in items]
    classes = ("D1", "D2", "D3", "D4", "D5", "D6")
    rng = np.random.default_rng(seed)

    def by_class(idx: np.ndarray) -> dict[str, dict[str, Any]]:
        out = {}
        for c in classes:
            tp = sum(1 for i in idx if items[i]["expect"] == c and c in predicted[i])
            fp = sum(1 for i in idx if items[i]["expect"] != c and c in predicted[i])
            fn = sum(1 for i in idx if items[i]["expect"] == c and c not in predicted[i])
            out[c] = {"tp": tp, "fp": fp, "fn": fn, "precision": _rate(tp, tp + fp), "recall": _rate(tp, tp + fn)}
        return out

    idx_all = np.arange(len(items))
    table = by_class(idx_all)
    samples: dict[str, dict[str, list[float]]] = {c: {"precision": [], "recall": []} for c in classes}
    for _ in range(draws):
        res = by_class(rng.integers(0, len(items), len(items)))
        for c in classes:
            for k in ("precision", "recall"):
                if res[c][k] is not None:
                    samples[c][k].append(res[c][k])
    for c in classes:
        table[c]["ci95"] = {k: _pct(v) for k, v in samples[c].items()}
    sources = sorted({it["source"] for it in items})
    per_source = {}
    for s in sources:
        ix = [i for i, it in enumerate(items) if it["source"] == s]
        neg = [i for i in ix if items[i]["expect"] is None]
        per_source[s] = {"n": len(ix), "positives": len(ix) - len(neg),
                         "false_alarms": sum(1 for i in neg if predicted[i]),
                         "false_alarm_rate": _rate(sum(1 for i in neg if predicted[i]), len(neg))}
    mistakes = [{"source": items[i]["source"], "id": items[i]["id"], "expect": items[i]["expect"],
                 "predicted": predicted[i], "command": (items[i]["commands"] or [""])[0][:160],
                 "tools": [c["name"] for c in items[i].get("calls", [])]}
                for i in idx_all if (items[i]["expect"] or None) not in (predicted[i] or [None])
                or (items[i]["expect"] is None and predicted[i])]
    return {"set": "real", "split": split, "n": len(items), "targets": ACTION_TARGETS, "classes": table,
            "sources": per_source, "mistakes": mistakes}


def actions_passes(report: dict[str, Any]) -> dict[str, bool]:
    ok = {}
    for c, v in report["classes"].items():
        support = v["tp"] + v["fn"]
        if support == 0 and v["fp"] == 0:
            continue
        ok[c] = (v["precision"] is None or v["precision"] >= ACTION_TARGETS["precision"]) and \
                (support == 0 or (v["recall"] or 0) >= ACTION_TARGETS["recall"])
    return ok
