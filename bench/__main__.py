"""Run every benchmark module (or those named on the command line) and print their reports."""
from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

BENCHES = ["bench.step_overhead", "bench.shadow_snapshot", "bench.import_speed", "bench.replay_open", "bench.batch_throughput",
           "bench.actions", "bench.report_speed", "bench.tone", "bench.model_context", "bench.whitebox"]
# Run only when named (`python -m bench agent_protocol`): they take hours.
ON_DEMAND = ["bench.agent_protocol"]


def main(argv: list[str]) -> int:
    names = [b for b in BENCHES if not argv or any(a in b for a in argv)]
    names += [b for b in ON_DEMAND if argv and any(a in b for a in argv)]
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        print(f"\n== {name} ==", flush=True)
        t0 = time.perf_counter()
        result = importlib.import_module(name).run()
        result["bench_wall_s"] = round(time.perf_counter() - t0, 2)
        (out_dir / f"{name.split('.')[-1]}.json").write_text(json.dumps(result, indent=2) + "\n")
        for target in result.get("targets", []):
            mark = "ok  " if target["met"] else "MISS"
            failed += not target["met"]
            print(f"  [{mark}] {target['name']}: {target['value']} (target {target['target']})")
    print(f"\n{failed} target(s) missed" if failed else "\nall targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
