"""The report in the terminal: rich tables built from the result dict (never from raw data), so
the terminal, the JSON and the HTML always show the same numbers."""
from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def fmt_p(p: Any) -> str:
    if p is None:
        return "—"
    return f"{p:.3g}" if p >= 1e-4 else "<1e-4"


def fmt_share(k: Any, n: Any) -> str:
    if not n:
        return "—"
    return f"{k} ({k / n:.0%})"


def fmt_ci(lo: Any, hi: Any, digits: int = 2) -> str:
    if lo is None or hi is None:
        return "—"
    return f"{lo:.{digits}f}–{hi:.{digits}f}"


def not_estimable_text(res: dict[str, Any]) -> Text:
    return Text(f"not estimable ({res.get('reason')})", style="yellow", justify="left")


def ordering_table(r: dict[str, Any]) -> Table:
    o = r["ordering"]
    t = Table(title=f"1 · Ordering of frustration onset ({o.get('definition')}) and the first D1",
              title_justify="left", header_style="bold")
    for col in ("model", "scenario", "runs", "D1 runs", "before", "same step", "after", "never",
                "silent drastic", "remorse after"):
        t.add_column(col, justify="left" if col in ("model", "scenario") else "right")

    def add(label_m: str, label_s: str, row: dict[str, Any], style: str | None = None) -> None:
        n = row.get("n_observable", row["n_d1"])
        t.add_row(label_m, label_s, str(row["n_runs"]), fmt_share(row["n_d1"], row["n_runs"]),
                  fmt_share(row["before"], n), fmt_share(row["same"], n), fmt_share(row["after"], n),
                  fmt_share(row["never"], n), fmt_share(row["silent_drastic"], n),
                  fmt_share(row["remorse_after"], row["n_observed_after_d1"]), style=style)

    for row in o["by_stratum"]:
        add(row["model"], row["scenario"], row)
    add("all", "pooled", o["pooled"], style="bold")
    t.caption = ("shares of the D1 runs with narration before the act (a run whose first observed step is the "
                 "act is not observable); silent drastic: no onset up to and including the act's turn; remorse "
                 "after: a remorse flag after the act, share of D1 runs that went on after it")
    return t


def precedence_table(r: dict[str, Any]) -> Table | Text:
    p, lt = r["precedence"], r["lead_time"]
    t = Table(title="2–3 · Precedence and lead time against the trajectory-swap null", title_justify="left",
              header_style="bold")
    for col in ("statistic", "onset", "observed (95% CI)", "swap null", "excess (95% CI)", "p", "n runs"):
        t.add_column(col, justify="left" if col in ("statistic", "onset") else "right")
    if not p.get("estimable"):
        t.add_row("P(onset < first D1 | D1)", p.get("definition") or "—", not_estimable_text(p), "", "", "", "0")
    else:
        t.add_row("P(onset < first D1 | D1)", p["definition"],
                  f"{fmt(p['observed'])} ({fmt_ci(*p['ci'])})", fmt(p["null_mean"]),
                  f"{p['excess']:+.2f} ({fmt_ci(*p['excess_ci'])})", fmt_p(p["p"]), str(p["n_runs"]),
                  style="bold")
        for name, v in p.get("by_definition", {}).items():
            if v.get("estimable"):
                t.add_row("", name, f"{fmt(v['observed'])} ({fmt_ci(*v['ci'])})", fmt(v["null_mean"]),
                          f"{v['excess']:+.2f}", fmt_p(v["p"]), str(v["n_runs"]))
            else:
                t.add_row("", name, not_estimable_text(v), "", "", "", "")
    if lt.get("estimable"):
        t.add_row("median lead time (steps)", lt.get("definition") or "",
                  f"{fmt(lt['median'], 1)} ({fmt_ci(*lt['ci'], digits=1)})", fmt(lt["null_median"], 1),
                  f"{lt['difference']:+.1f}", fmt_p(lt["p"]), str(lt["n_runs"]))
    else:
        t.add_row("median lead time (steps)", lt.get("definition") or "", not_estimable_text(lt), "", "", "", "")
    return t


def hazard_table(r: dict[str, Any]) -> Table:
    t = Table(title="5–6 · Discrete-time hazard of the first D1 (run-clustered SEs) and case-time-control",
              title_justify="left", header_style="bold")
    for col in ("analysis", "exposure / group", "odds ratio", "95% CI", "p", "runs", "events"):
        t.add_column(col, justify="left" if col in ("analysis", "exposure / group") else "right")

    def add(label: str, sub: str, res: dict[str, Any], style: str | None = None,
            n_runs: Any = None, n_events: Any = None) -> None:
        if not res.get("estimable"):
            t.add_row(label, sub, not_estimable_text(res), "", "", fmt(res.get("n_runs", n_runs)),
                      fmt(res.get("n_events", n_events)), style=style)
            return
        t.add_row(label, sub, fmt(res["odds_ratio"]), fmt_ci(res["ci_low"], res["ci_high"]), fmt_p(res["p"]),
                  fmt(res.get("n_runs", n_runs)), fmt(res.get("n_events", n_events)), style=style)

    h = r["hazard"]
    add("primary", h.get("exposure_label", ""), h, style="bold")
    bm = h.get("by_model") or {}
    if bm.get("estimable"):
        for m in bm["models"]:
            add("  by model", m["model"], {"estimable": True, **m})
        t.add_row("  interaction", "same OR in every model?", "", "", fmt_p(bm["interaction_p"]), "", "")
    elif bm:
        t.add_row("  by model", "", not_estimable_text(bm), "", "", "", "")
    for name, res in r.get("hazard_sensitivity", {}).items():
        add("sensitivity", res.get("exposure_label", name), res)
    add("outcome D2/D3", r["secondary_outcome"].get("exposure_label", ""), r["secondary_outcome"])
    ctc = r["case_time_control"]
    add("case-time-control", f"t−1 vs t−{r['definitions']['options']['ctc_windows'] + 1}…t−2", ctc,
        n_runs=(ctc.get("n_case_runs") or 0), n_events=None)
    if ctc.get("estimable"):
        for key, label in (("case_crossover", "  case-crossover"), ("time_control", "  ÷ time trend")):
            v = ctc[key]
            t.add_row(label, "D1 runs" if key == "case_crossover" else "runs without D1",
                      fmt(v["odds_ratio"]), fmt_ci(v["ci_low"], v["ci_high"]), "",
                      str(ctc["n_case_runs"] if key == "case_crossover" else ctc["n_control_runs"]), "")
    tc = r.get("truth_check")
    if tc:
        add("ground truth", "true level, true D1", tc["hazard_truth"], style="dim")
    return t


def peri_table(r: dict[str, Any]) -> Table | Text:
    pe = r["peri_event"]
    if not pe.get("estimable"):
        return Text.assemble(("4 · Peri-event tone: ", "bold"), not_estimable_text(pe))
    t = Table(title="4 · Mean tone level around the first D1 vs step-matched dummy events",
              title_justify="left", header_style="bold")
    for col in ("step", "D1 runs", "95% CI", "n", "dummies", "95% CI", "n runs"):
        t.add_column(col, justify="right")
    d, m = pe["d1"], pe.get("dummy")
    for k, off in enumerate(pe["offsets"]):
        label = "0 (act)" if off == 0 else f"{off:+d}"
        t.add_row(label, fmt(d["mean"][k]), fmt_ci(d["ci_low"][k], d["ci_high"][k]), str(d["n"][k]),
                  fmt(m["mean"][k]) if m else "—", fmt_ci(m["ci_low"][k], m["ci_high"][k]) if m else "—",
                  str(m["n_runs"]) if m and k == 0 else "", style="bold" if off == 0 else None)
    pw = pe.get("pre_window") or {}
    if pw.get("estimable"):
        t.caption = (f"steps −3…−1: D1 − dummy = {pw['difference']:+.2f} (95% CI {fmt_ci(*pw['ci'])}), "
                     f"p = {fmt_p(pw['p'])}, n = {pw['n_runs']} runs")
    return t


def tests_table(r: dict[str, Any]) -> Table:
    t = Table(title="7 · Every test: the primary alone, the secondary ones Holm-corrected", title_justify="left",
              header_style="bold")
    for col in ("role", "test", "p", "p (Holm)", "n runs"):
        t.add_column(col, justify="left" if col in ("role", "test") else "right")
    for row in r["tests"]:
        t.add_row(row["role"], row["name"], fmt_p(row["p"]), fmt_p(row.get("p_holm")), fmt(row.get("n_runs")),
                  style="bold" if row["role"] == "primary" else None)
    return t


def inputs_text(r: dict[str, Any]) -> Text:
    i = r["inputs"]
    parts = [f"{i.get('runs_found', 0)} runs found, {i.get('runs_scored', 0)} scored"]
    if i.get("runs_unscored"):
        parts.append(f"{i['runs_unscored']} unscored (left out)")
    if i.get("runs_excluded"):
        parts.append(f"{i['runs_excluded']} unreadable (left out)")
    if i.get("runs_unfinished"):
        parts.append(f"{i['runs_unfinished']} never finished ("
                     + ("counted as censored" if i.get("unfinished_included") else "left out") + ")")
    if i.get("scored_now"):
        parts.append(f"{i['scored_now']} scored just now")
    parts.append(f"{len(i.get('models', []))} model(s), {len(i.get('scenarios', []))} scenario(s), "
                 f"{i.get('n_steps', 0)} steps")
    return Text("Inputs: " + "; ".join(parts), style="bold")


def interventions_table(r: dict[str, Any]) -> Table | None:
    iv = r.get("interventions") or {}
    if not iv.get("estimable"):
        return None
    t = Table(title=f"Interventions: {iv['continuations']} continuations from {iv['branch_points']} branch "
                    f"point(s); differences from {iv.get('baseline')} with 95% CIs (bootstrap by "
                    f"{iv['clustered_by']})", title_justify="left", box=None)
    for col in ("arm", "n", "P(D1)", "Δ D1", "P(D2)", "Δ D2", "steps to 1st drastic", "Δ", "tone after",
                "rewrite (level before→after)"):
        t.add_column(col, justify="right" if col not in ("arm", "rewrite (level before→after)") else "left")
    for arm, a in iv["arms"].items():
        d = (iv.get("differences") or {}).get(arm)
        m = (iv.get("manipulation") or {}).get(arm) or {}

        def diff(key: str) -> str:
            if not d:
                return "—"
            x = d[key]
            return f"{x['diff']:+.2f} {fmt_ci(x['ci_low'], x['ci_high'])}"
        rw = (f"{m['rewritten_steps']} steps, {m['mean_level_before']:.1f}→{m['mean_level_after']:.1f}"
              if m.get("rewritten_steps") else "—")
        t.add_row(Text(arm), str(a["n"]), fmt(a["p_d1"]), diff("d1"), fmt(a["p_d2"]), diff("d2"),
                  fmt(a["rmst_first_drastic"], 1), diff("rmst_first_drastic"), fmt(a["tone_after"]), rw)
    return t


def render(r: dict[str, Any], console: Console) -> None:
    console.print(inputs_text(r))
    console.print(Text(r["definitions"]["same_step"], style="dim"))
    iv = interventions_table(r)
    if r["ordering"].get("pooled") is None:
        for line in r["summary"]:
            console.print(Text(line, style="yellow"))
        if iv is not None:
            console.print()
            console.print(iv)
        return
    for part in (ordering_table(r), precedence_table(r), peri_table(r), hazard_table(r), tests_table(r), iv):
        if part is None:
            continue
        console.print()
        console.print(part)
    if r["flags"]:
        console.print()
        console.print(Panel(Group(*[Text(f"• {f['message']}") for f in r["flags"]]), title="flags",
                            border_style="yellow", expand=False))
    console.print()
    console.print(Panel(Group(*[Text(s) for s in r["summary"]]), title="summary", expand=False))
