"""How fast `testbed replay` opens a 1,000-step run, against a baseline measured in the same run:
plain `read_events` of the same events.jsonl (parse + validate, nothing else).

"Open" = read the log, load scores.jsonl, build the timeline and render the first full screen
(120×45) — what a user waits for after pressing enter. Also: the same in a fresh interpreter
(imports included) against a fresh interpreter that only runs `read_events`, and the time to
answer a key (next step; jump to the next drastic action) once open. The fresh-interpreter numbers
are reported without a target: interpreter start and imports dominate them and swing with the
load on the machine.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.synthetic_run import write_synthetic_run

STEPS = 1000
TRIALS = 9
COLD_TRIALS = 5
WIDTH, HEIGHT = 120, 45
TARGET_S = 0.5

OPEN_SNIPPET = """
import sys, time
t0 = time.perf_counter()
from rich.console import Console
from testbed.replay.app import Replay
from testbed.replay.source import open_run
replay = Replay(open_run(sys.argv[1]), on_the_fly=False)
console = Console(width={w}, height={h}, force_terminal=True, file=open("/dev/null", "w"))
console.print(replay.render(console, {w}, {h}))
print(time.perf_counter() - t0)
""".format(w=WIDTH, h=HEIGHT)
BASELINE_SNIPPET = """
import sys, time
t0 = time.perf_counter()
from testbed.log import read_events
read_events(sys.argv[1] + "/events.jsonl")
print(time.perf_counter() - t0)
"""


def _open_once(run_dir: Path) -> tuple[float, object, object]:
    from rich.console import Console

    from testbed.replay.app import Replay
    from testbed.replay.source import open_run
    t0 = time.perf_counter()
    replay = Replay(open_run(run_dir), on_the_fly=False)
    console = Console(width=WIDTH, height=HEIGHT, force_terminal=True, file=open(os.devnull, "w"))
    console.print(replay.render(console, WIDTH, HEIGHT))
    return time.perf_counter() - t0, replay, console


def _cold(snippet: str, run_dir: Path) -> float:
    """Wall time of a fresh interpreter: startup and imports included."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", snippet, str(run_dir)], check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def run() -> dict:
    from testbed.log import read_events

    tmp = Path(tempfile.mkdtemp(prefix="testbed-bench-replay-"))
    try:
        run_dir = write_synthetic_run(tmp, steps=STEPS, seed=0, scores=True)
        log = run_dir / "events.jsonl"
        _open_once(run_dir)  # warm the imports and the page cache for both sides alike
        read_events(log)
        ours, base = [], []
        for _ in range(TRIALS):  # interleaved, so load on the machine hits both alike
            t0 = time.perf_counter()
            read_events(log)
            base.append(time.perf_counter() - t0)
            ours.append(_open_once(run_dir)[0])
        cold_ours, cold_base = [], []
        for _ in range(COLD_TRIALS):
            cold_base.append(_cold(BASELINE_SNIPPET, run_dir))
            cold_ours.append(_cold(OPEN_SNIPPET, run_dir))
        _, replay, console = _open_once(run_dir)
        key_next, key_jump = [], []
        for _ in range(50):
            t0 = time.perf_counter()
            replay.handle("right")
            console.print(replay.render(console, WIDTH, HEIGHT))
            key_next.append(time.perf_counter() - t0)
        replay.handle("home")
        for _ in range(20):
            t0 = time.perf_counter()
            replay.handle("]")
            console.print(replay.render(console, WIDTH, HEIGHT))
            key_jump.append(time.perf_counter() - t0)
        size_mb = log.stat().st_size / 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median
    o, b, co, cb = med(ours), med(base), med(cold_ours), med(cold_base)
    ratio, cold_ratio = o / b, co / cb
    print(f"  {STEPS}-step run ({size_mb:.1f} MB events.jsonl, scores.jsonl), median of {TRIALS}:")
    print(f"  open (read + scores + timeline + first {WIDTH}x{HEIGHT} screen): {o * 1000:.0f} ms")
    print(f"  baseline read_events of the same log:                     {b * 1000:.0f} ms")
    print(f"  ratio open/read_events: {ratio:.2f}")
    print(f"  fresh interpreter, median of {COLD_TRIALS}: open {co * 1000:.0f} ms, "
          f"read_events {cb * 1000:.0f} ms (ratio {cold_ratio:.2f})")
    print(f"  a key once open: next step {med(key_next) * 1000:.1f} ms, next drastic "
          f"{med(key_jump) * 1000:.1f} ms (median)")
    return {
        "steps": STEPS, "open_ms_median": round(o * 1000, 1), "baseline_read_events_ms_median": round(b * 1000, 1),
        "ratio": round(ratio, 3), "cold_open_ms_median": round(co * 1000, 1),
        "cold_baseline_ms_median": round(cb * 1000, 1), "cold_ratio": round(cold_ratio, 3),
        "key_next_ms_median": round(med(key_next) * 1000, 2), "key_jump_ms_median": round(med(key_jump) * 1000, 2),
        "targets": [
            {"name": f"open a {STEPS}-step run", "value": f"{o * 1000:.0f} ms", "target": f"<= {TARGET_S * 1000:.0f} ms",
             "met": o <= TARGET_S},
            {"name": "open / read_events of the same log", "value": f"{ratio:.2f}", "target": "<= 1.5",
             "met": ratio <= 1.5},
            {"name": "key response (next step)", "value": f"{med(key_next) * 1000:.1f} ms", "target": "<= 100 ms",
             "met": med(key_next) <= 0.1},
        ],
    }
