"""The report's figures as PNG bytes (matplotlib, Agg backend, no display needed)."""
from __future__ import annotations

import io
from typing import Any

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def peri_event_png(r: dict[str, Any]) -> bytes | None:
    pe = r["peri_event"]
    if not pe.get("estimable"):
        return None
    plt = _plt()
    x = np.array(pe["offsets"])
    fig, ax = plt.subplots(figsize=(7, 3.8))

    def arr(v):
        return np.array([np.nan if a is None else a for a in v], float)

    d = pe["d1"]
    ax.plot(x, arr(d["mean"]), "o-", color="#c0392b", label=f"first D1 ({pe['n_d1_runs']} runs)")
    ax.fill_between(x, arr(d["ci_low"]), arr(d["ci_high"]), color="#c0392b", alpha=0.15)
    if pe.get("dummy"):
        m = pe["dummy"]
        ax.plot(x, arr(m["mean"]), "s--", color="#2c3e50",
                label=f"step-matched dummies ({m['n_runs']} runs without D1)")
        ax.fill_between(x, arr(m["ci_low"]), arr(m["ci_high"]), color="#2c3e50", alpha=0.12)
    ax.axvline(0, color="grey", lw=1)
    ax.axvspan(0.5, x.max() + 0.5, color="grey", alpha=0.07)
    ax.set_xlabel("steps relative to the first D1 (0 = the act's own turn; shaded: after the act)")
    ax.set_ylabel("mean tone level (0–3)")
    ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Tone around the first D1 vs matched dummy events")
    return _png(fig)


def ordering_png(r: dict[str, Any]) -> bytes | None:
    o = r["ordering"]
    rows = [("pooled", o["pooled"])] + [(f"{s['model']} × {s['scenario']}", s) for s in o["by_stratum"]]
    rows = [(k, v) for k, v in rows if v and v["n_d1"]]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(rows)))
    colors = {"before": "#c0392b", "same": "#e67e22", "after": "#2980b9", "never": "#95a5a6"}
    left = np.zeros(len(rows))
    for key, color in colors.items():
        vals = np.array([v[key] / v["n_d1"] for _, v in rows])
        ax.barh(range(len(rows)), vals, left=left, color=color, label=key)
        left += vals
    ax.set_yticks(range(len(rows)), [f"{k} (n={v['n_d1']})" for k, v in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"share of runs with a D1 (onset: {o.get('definition')})")
    ax.legend(ncol=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(fig)


def null_png(r: dict[str, Any]) -> bytes | None:
    p = r["precedence"]
    null = p.get("_null")
    if not p.get("estimable") or null is None:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(null, bins=40, color="#95a5a6", label=f"swap null ({len(null)} draws)")
    ax.axvline(p["observed"], color="#c0392b", lw=2, label=f"observed {p['observed']:.2f}")
    ax.set_xlabel("P(onset before first D1 | D1)")
    ax.legend(fontsize=8)
    ax.set_title(f"Precedence vs the trajectory-swap null (p = {p['p']:.3g}, n = {p['n_runs']} runs)")
    return _png(fig)


def forest_png(r: dict[str, Any]) -> bytes | None:
    entries = []
    h = r["hazard"]
    if h.get("estimable"):
        entries.append(("hazard (primary)", h))
        for m in (h.get("by_model") or {}).get("models", []):
            entries.append((f"  model {m['model']}", m))
    for name, res in r.get("hazard_sensitivity", {}).items():
        if res.get("estimable"):
            entries.append((f"hazard, {name}", res))
    if r["secondary_outcome"].get("estimable"):
        entries.append(("hazard, first D2/D3", r["secondary_outcome"]))
    if r["case_time_control"].get("estimable"):
        entries.append(("case-time-control", r["case_time_control"]))
    tc = r.get("truth_check")
    if tc and tc["hazard_truth"].get("estimable"):
        entries.append(("ground truth", tc["hazard_truth"]))
    if not entries:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.4 * len(entries)))
    for k, (label, e) in enumerate(entries):
        ax.plot([e["ci_low"], e["ci_high"]], [k, k], color="#2c3e50")
        ax.plot(e["odds_ratio"], k, "o", color="#c0392b" if k == 0 else "#2c3e50")
    ax.axvline(1, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter
    lo = min(e["ci_low"] for _, e in entries)
    hi = max(e["ci_high"] for _, e in entries)
    ticks = [v for v in (0.1, 0.2, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50) if lo / 1.5 <= v <= hi * 1.5]
    ax.xaxis.set_major_locator(FixedLocator(ticks or [1]))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(range(len(entries)), [f"{label} (n={e.get('n_events') or e.get('n_case_runs') or '?'})"
                                        for label, e in entries], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("odds ratio (95% CI, log scale)")
    return _png(fig)


def all_pngs(r: dict[str, Any]) -> dict[str, bytes]:
    out = {}
    for name, fn in (("ordering", ordering_png), ("precedence_null", null_png),
                     ("peri_event", peri_event_png), ("odds_ratios", forest_png)):
        png = fn(r)
        if png:
            out[name] = png
    from analysis.competing import cif_png
    png = cif_png(r)
    if png:
        out["cumulative_incidence"] = png
    if (r.get("interventions") or {}).get("estimable"):
        from analysis.interventions import interventions_png
        png = interventions_png(r["interventions"])
        if png:
            out["interventions"] = png
    return out
