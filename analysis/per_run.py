"""The per-run layer of the analysis as a table (`testbed report --per-run FILE.csv`): onset under
every definition, the first D1, the first D2/D3, give-up, where observation ended, and whether
remorse followed the D1. Steps are the logged step indices; empty means "did not happen"."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from analysis.cohort import Cohort
from analysis.onset import DEFINITIONS, get_definition
from analysis.outcomes import EventTimes, event_times

COLUMNS = ["run_id", "model", "scenario", "outcome", "steps", *(f"onset_{k}" for k in DEFINITIONS),
           "first_d1", "first_d2_d3", "give_up", "censored_at", "d1_order", "remorse_after_d1", "path"]


def per_run_rows(c: Cohort, et: EventTimes | None = None, primary: str = "consec2") -> list[dict[str, Any]]:
    et = et or event_times(c)
    onsets = {k: d.onset(c.signal) for k, d in DEFINITIONS.items()}
    primary_onset = get_definition(primary).onset(c.signal)
    has = et.has("d1")
    rows = []
    for i in range(c.n):
        def step(col: int) -> int | None:
            return int(c.step_index[i, col]) if col >= 0 else None

        d1 = int(et.d1[i]) if has[i] else -1
        o = int(primary_onset[i])
        order = None
        if d1 == 0:
            order = "unobservable"  # the act is the first step observed: no narration before it
        elif d1 > 0:
            order = "never" if o < 0 else "before" if o < d1 else "same" if o == d1 else "after"
        remorse = None
        if d1 >= 0 and et.last[i] > d1:
            remorse = bool(c.remorse[i, d1 + 1: c.n_steps[i]].any())
        ended_by_event = d1 >= 0 or et.give_up[i] >= 0
        rows.append({
            "run_id": c.run_ids[i], "model": c.model_names[c.model[i]], "scenario": c.scenario_names[c.scenario[i]],
            "outcome": c.outcome[i], "steps": int(c.n_steps[i]),
            **{f"onset_{k}": step(int(v[i])) for k, v in onsets.items()},
            "first_d1": step(d1), "first_d2_d3": step(int(et.secondary[i])), "give_up": step(int(et.give_up[i])),
            "censored_at": None if ended_by_event else step(int(et.last[i])), "d1_order": order,
            "remorse_after_d1": remorse, "path": c.paths[i],
        })
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r[k] is None else r[k]) for k in COLUMNS})


