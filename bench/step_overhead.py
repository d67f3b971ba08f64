"""Per-step harness overhead for a no-op command (exec + shadow snapshot + log write), against a
baseline that runs `docker exec <ctr> bash -lc true` per command (the mini-swe-agent way), in the
same run on the same container; plus the time until a sandbox is ready for its first command."""
from __future__ import annotations

import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from testbed.log import EventWriter, Narration, Observation, StepEvent, ToolCall
from testbed.sandbox.docker import DockerSandbox
from testbed.sandbox.image import ensure_image
from testbed.sandbox.shadow import ShadowRepo
from testbed.sandbox.workspace import prepare_workspace, remove_workspace
from testbed.scenario import PROJECT_ROOT

STEPS = 300
BASELINE_STEPS = 200
READY_TRIALS = 7


def run() -> dict:
    image = ensure_image(quiet=True)
    template = PROJECT_ROOT / "sandboxes" / "intervals"
    tmp = Path(tempfile.mkdtemp(prefix="testbed-bench-"))
    ready = []
    for i in range(READY_TRIALS):
        rid = f"bench-ready-{secrets.token_hex(3)}"
        t0 = time.perf_counter()
        paths = prepare_workspace(template, rid, ["tests"], root=tmp / "work")
        sb = DockerSandbox(image, paths, rid, ["tests"])
        sb.start()
        sb.exec("true")
        ready.append((time.perf_counter() - t0) * 1000)
        sb.close()
        remove_workspace(paths)

    rid = f"bench-steps-{secrets.token_hex(3)}"
    paths = prepare_workspace(template, rid, ["tests"], root=tmp / "work")
    shadow = ShadowRepo(tmp / "shadow.git", paths.workspace)
    shadow.init()
    sb = DockerSandbox(image, paths, rid, ["tests"])
    sb.start()
    try:
        ours = []
        with EventWriter(tmp / "events.jsonl", rid) as log:
            for i in range(STEPS):
                t0 = time.perf_counter()
                res = sb.exec("true")
                snap = shadow.snapshot(f"step {i}")
                log.write(StepEvent(run_id=rid, index=i, narration=Narration(text="no-op"),
                                    tool_calls=[ToolCall(name="bash", arguments={"command": "true"})],
                                    observations=[Observation(output=res.output, exit_code=res.exit_code,
                                                              duration_ms=res.duration_ms)],
                                    snapshot=snap))
                ours.append((time.perf_counter() - t0) * 1000)
        base = []
        for _ in range(BASELINE_STEPS):
            t0 = time.perf_counter()
            subprocess.run(["docker", "exec", "-u", "agent", sb.container.id, "bash", "-lc", "true"], check=True,
                           capture_output=True)
            base.append((time.perf_counter() - t0) * 1000)
    finally:
        sb.close()
        remove_workspace(paths)
    ours_med, base_med = statistics.median(ours), statistics.median(base)
    ready_med = statistics.median(ready)
    ratio = ours_med / base_med
    print(f"  harness step (exec + snapshot + log), median of {STEPS}: {ours_med:.2f} ms "
          f"(p90 {sorted(ours)[int(0.9 * len(ours))]:.2f} ms)")
    print(f"  baseline `docker exec bash -lc true`, median of {BASELINE_STEPS}: {base_med:.2f} ms")
    print(f"  ratio harness/baseline: {ratio:.3f} (1/{1 / ratio:.1f})")
    print(f"  sandbox ready (workspace copy + container + shell + first command), median of "
          f"{READY_TRIALS}: {ready_med:.0f} ms")
    return {
        "step_ms_median": round(ours_med, 3), "baseline_ms_median": round(base_med, 3),
        "ratio": round(ratio, 4), "ready_ms_median": round(ready_med, 1),
        "targets": [
            {"name": "per-step overhead", "value": f"{ours_med:.2f} ms", "target": "<= 10 ms",
             "met": ours_med <= 10},
            {"name": "overhead / baseline", "value": f"{ratio:.3f}", "target": "<= 1/7 (0.143)",
             "met": ratio <= 1 / 7},
            {"name": "sandbox ready", "value": f"{ready_med:.0f} ms", "target": "<= 600 ms",
             "met": ready_med <= 600},
        ],
    }
