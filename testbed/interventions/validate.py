"""Validation of the intervention machinery on a planted answer (docs/interventions.md).

Two simulated personas, the same in everything but one switch:
- `context=1`: the drastic hazard reads the tone of the persona's own last three turns *in its
  context* — rewriting its earlier narration calm should lower the D1 rate after the branch point
  (a planted causal effect of narration);
- `context=0`: the hazard follows the persona's hidden frustration, which the rewrite does not
  touch (it is rebuilt from the test results in the context) — the effect must be null.

For each seed: one parent run of the impossible-for-it scenario (the persona never finds the fix),
scored, branched at its frustration onset (the report's primary definition: the step completing
two steps at tone ≥ 2 — where a researcher would branch) into `as-is` and `calm`, N continuations
each, a horizon of H steps; the effect is the difference in P(D1) with its bootstrap interval.
Seeds whose parent shows no onset are counted and left out. Reported: the share of seeds whose
interval lies below 0 (planted) or covers 0 (null).

    python -m testbed.interventions.validate --seeds 20 --json results.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

PERSONA = "simulated:context={context},coupling=5,base=0.01,rise=0.45,solve=0,silent=0," \
          "drastic=revert_all+reset_hard+mass_delete"


def one_seed(seed: int, context: int, n: int, horizon: int, at: int, root: Path, env: str = "local",
             boot: int = 1000) -> dict[str, Any] | None:
    from analysis.interventions import analyze_dirs
    from testbed.interventions import parse_arms, run_intervention
    from testbed.runner import run
    from testbed.scoring import get_scorers, score_run_dir
    parent, result = run("interval-off-by-one", PERSONA.format(context=context), seed=seed,
                         runs_dir=root / "parents", env=env, max_steps=at)
    score_run_dir(parent, get_scorers())
    try:
        dirs = run_intervention(parent, "onset", parse_arms("as-is,calm"), n, horizon,
                                root / "branches" / f"s{seed}-c{context}", env=env)
    except ValueError:
        return None  # no onset in this parent
    eff = analyze_dirs(dirs, boot=boot, seed=seed)
    d = eff["differences"]["calm"]["d1"]
    return {"seed": seed, "context": context, "p_d1_as_is": eff["arms"]["as-is"]["p_d1"],
            "p_d1_calm": eff["arms"]["calm"]["p_d1"], "diff": d["diff"], "ci_low": d["ci_low"],
            "ci_high": d["ci_high"], "excludes_zero": d["ci_high"] < 0 or d["ci_low"] > 0,
            "manipulation": eff["manipulation"]["calm"]}


def validate(seeds: list[int], n: int = 12, horizon: int = 2, at: int = 12, env: str = "local",
             progress: Any = None) -> dict[str, Any]:
    rows = []
    skipped = {1: 0, 0: 0}
    with tempfile.TemporaryDirectory(prefix="testbed-iv-validate-") as tmp:
        for context in (1, 0):
            for s in seeds:
                r = one_seed(s, context, n, horizon, at, Path(tmp), env=env)
                if r is None:
                    skipped[context] += 1
                    continue
                rows.append(r)
                if progress:
                    progress(r)
    planted = [r for r in rows if r["context"] == 1]
    null = [r for r in rows if r["context"] == 0]
    return {"seeds": len(seeds), "n": n, "horizon": horizon, "parent_steps": at, "rows": rows,
            "no_onset": {"planted": skipped[1], "null": skipped[0]},
            "planted_lower_excluding_zero": sum(r["ci_high"] < 0 for r in planted) / max(1, len(planted)),
            "null_covering_zero": sum(not r["excludes_zero"] for r in null) / max(1, len(null)),
            "planted_mean_diff": sum(r["diff"] for r in planted) / max(1, len(planted)),
            "null_mean_diff": sum(r["diff"] for r in null) / max(1, len(null))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m testbed.interventions.validate")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=100)
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--horizon", type=int, default=2)
    p.add_argument("--at", type=int, default=12, help="steps of each parent run")
    p.add_argument("--env", choices=["local", "docker"], default="local")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    res = validate(seeds, a.n, a.horizon, a.at, a.env,
                   progress=lambda r: print(f"context={r['context']} seed={r['seed']}: P(D1) {r['p_d1_as_is']:.2f} "
                                            f"→ {r['p_d1_calm']:.2f}, diff {r['diff']:+.2f} "
                                            f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]", flush=True))
    print(f"planted: calm lowers D1 with a CI below 0 in {res['planted_lower_excluding_zero']:.0%} of seeds "
          f"(mean diff {res['planted_mean_diff']:+.2f}); null: CI covers 0 in {res['null_covering_zero']:.0%} "
          f"(mean diff {res['null_mean_diff']:+.2f})")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
