"""`make bench-peers`: this harness against the peers' own code, interleaved, in one run, on this
engine and image. The peers run from their own pinned virtualenv (bench/.peers-venv, see
bench/peers-requirements.txt) through bench/peers_side.py; ours runs here. Each figure is a median
over trials that alternate ours / theirs, so load on the machine falls on both alike.

Measured: time until a sandbox has run its first command (mini-swe-agent's `DockerEnvironment`
constructor + first `execute`; Inspect AI's docker sandbox `sample_init` + first `exec`; ours
cold-sequential, as a single run has it, and pooled, as a batch has it), command round trips
(`true`, `ls -la /etc`), the per-step cost at steps 1 / 100 / 300 of a run that saves its record
every step (mini: DefaultAgent + its trajectory save; ours: the agent loop + shadow git + log), and
peak RSS over 1,000 steps. Writes bench/results/peers.json; `--write docs/performance.md` also
rewrites the figures table there.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testbed.scenario import PROJECT_ROOT

PEERS_PY = PROJECT_ROOT / "bench" / ".peers-venv" / "bin" / "python"
SIDE = PROJECT_ROOT / "bench" / "peers_side.py"
SCENARIO = "interval-off-by-one"
TRIALS = int(os.environ.get("PEERS_TRIALS", "7"))
ROUNDTRIPS = 60
STEPS = 300
RSS_STEPS = 1000
NARRATION = ("I read the failing test and the interval module. The overlap check uses a strict "
             "comparison, so intervals that share an endpoint are treated as disjoint. Let me look at "
             "how the tests build their fixtures before I change anything, and then run the suite again "
             "to see whether the adjacent-range case is the only one failing.")


def _peer(request: dict, timeout: float = 1800) -> dict:
    out = subprocess.run([str(PEERS_PY), str(SIDE), json.dumps(request)], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{request['what']} failed: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spec(run_id: str, **knobs):
    from testbed.scenario import load_scenario
    from testbed.spec import RunSpec
    spec = RunSpec.for_scenario(load_scenario(SCENARIO), "bench", 0, **knobs)
    return spec.model_copy(update={"run_id": run_id})


def _work() -> Path:
    (PROJECT_ROOT / "build").mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="bench-peers-", dir=PROJECT_ROOT / "build"))


# -- ours ----------------------------------------------------------------------------------------
def ours_ready(mode: str) -> float:
    """ms until the sandbox has run its first command. cold: boot, then the command (nothing to
    overlap with). overlap: as `testbed run` does it, booting while the initial verdict runs;
    counted is only what the run waited for (start, the part of booting not hidden, the command).
    pooled: booted ahead by a batch worker; counted from handing it to the run."""
    from testbed.env.docker import DockerEnvironment
    tmp = _work()
    spec = _spec(tmp.name)
    env = DockerEnvironment(spec, tmp / "run")
    try:
        if mode == "pooled":
            env.provision()
            env.wait_ready()
            t0 = time.perf_counter()
            env.adopt(spec, tmp / "run")
            env.start()
            env.exec("true", 10)
            return (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        env.start()
        started = (time.perf_counter() - t0) * 1000
        if mode == "cold":
            env.wait_ready()
            env.exec("true", 10)
            return (time.perf_counter() - t0) * 1000
        env.check(1)  # the initial verdict every run begins with
        t1 = time.perf_counter()
        env.exec("true", 10)
        return started + (time.perf_counter() - t1) * 1000
    finally:
        env.close()
        shutil.rmtree(tmp, ignore_errors=True)


def ours_roundtrip(command: str, n: int) -> list[float]:
    from testbed.env.docker import DockerEnvironment
    tmp = _work()
    env = DockerEnvironment(_spec(tmp.name), tmp / "run")
    try:
        env.start()
        env.exec("true", 10)
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            env.exec(command, 10)
            out.append((time.perf_counter() - t0) * 1000)
        return out
    finally:
        env.close()
        shutil.rmtree(tmp, ignore_errors=True)


def ours_steps(n: int) -> dict:
    """Our agent loop for n steps (scripted replies with the same narration and command as mini's):
    the time of each step (model turn, command, shadow-git snapshot, log append) and peak RSS."""
    import yaml

    from testbed.env.docker import DockerEnvironment
    from testbed.runner import run_scenario
    tmp = _work()
    script = tmp / "script.yaml"
    script.write_text(yaml.safe_dump({"loop": True, "turns": [{"text": NARRATION, "bash": "ls -la /etc | head -5"}]}))
    marks: list[float] = []
    rss: dict[int, int] = {}

    def on_step(step, tests) -> None:
        marks.append(time.perf_counter())
        if step.index in (1, 10, 100, 300, 1000) or step.index == n:
            rss[step.index] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    spec = _spec(tmp.name, max_steps=n, wall_seconds=3600)
    try:
        run_scenario(spec, f"scripted:{script}", DockerEnvironment, runs_dir=tmp / "runs", on_step=on_step)
        events = (tmp / "runs" / tmp.name / "events.jsonl").read_text().splitlines()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    times = [(b - a) * 1000 for a, b in zip(marks, marks[1:])]  # step k: from the end of k-1 to the end of k
    return {"step_ms": times, "maxrss_kb": rss, "events": len(events)}


def _at(times: list[float], step: int, window: int = 5) -> float:
    i = max(0, min(len(times) - 1, step - 1))
    return statistics.median(times[max(0, i - window):i + window + 1])


# -- the run ---------------------------------------------------------------------------------------
def run(write: Path | None = None) -> dict:
    from testbed.sandbox.image import ensure_image
    if not PEERS_PY.exists():
        raise SystemExit("the peers' virtualenv is missing: run `make bench-peers` (it installs them)")
    image = ensure_image(quiet=True)
    versions = _peer({"what": "versions"})
    inspect_ok, inspect_why = _inspect_possible()
    results: dict = {"versions": versions, "image": image, "trials": TRIALS,
                     "engine": _engine(), "load": os.getloadavg()}

    ready: dict[str, list[float]] = {"mini": [], "ours cold": [], "ours overlapped": [], "ours pooled": []}
    if inspect_ok:
        ready["inspect"] = []
    for t in range(TRIALS):  # interleaved: one of each per round
        ready["mini"] += _peer({"what": "mini-ready", "image": image, "trials": 1})["ready_ms"]
        for mode in ("cold", "overlapped", "pooled"):
            ready[f"ours {mode}"].append(ours_ready(mode))
        if inspect_ok:
            ready["inspect"] += _peer({"what": "inspect-ready", "image": image, "trials": 1})["ready_ms"]
    results["ready_ms"] = {k: round(statistics.median(v), 1) for k, v in ready.items()}

    rt: dict[str, dict[str, float]] = {}
    for command in ("true", "ls -la /etc"):
        ours, mini, insp = [], [], []
        for _ in range(3):
            ours += ours_roundtrip(command, ROUNDTRIPS // 3)
            mini += _peer({"what": "mini-roundtrip", "image": image, "command": command, "n": ROUNDTRIPS // 3})["ms"]
            if inspect_ok:
                insp += _peer({"what": "inspect-roundtrip", "image": image, "command": command,
                               "n": ROUNDTRIPS // 3})["ms"]
        rt[command] = {"ours": round(statistics.median(ours), 2), "mini": round(statistics.median(mini), 2)}
        if inspect_ok:
            rt[command]["inspect"] = round(statistics.median(insp), 2)
    results["roundtrip_ms"] = rt

    tmp = _work()
    try:
        mini_run = _peer({"what": "mini-steps", "image": image, "steps": RSS_STEPS, "text": NARRATION,
                          "traj": str(tmp / "mini.traj.json")})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ours_run = _ours_in_subprocess(RSS_STEPS)
    results["step_ms"] = {str(s): {"ours": round(_at(ours_run["step_ms"], s), 2),
                                   "mini": round(_at(mini_run["step_ms"], s), 2)} for s in (1, 100, 300, 1000)}
    results["maxrss_mb"] = {who: {str(k): round(v / 1024, 1) for k, v in r["maxrss_kb"].items()}
                            for who, r in (("ours", ours_run), ("mini", mini_run))}
    results["inspect"] = ("measured through its own docker sandbox (`docker compose`, the service with "
                          "`network_mode: none`): `sample_init` + first `exec`, and `exec` round trips"
                          if inspect_ok else inspect_why)
    results["swe_rex"] = SWE_REX_WHY
    _print(results)
    results["targets"] = _targets(results)
    if write:
        _write_doc(write, results)
    return results


def _ours_in_subprocess(n: int) -> dict:
    """Our loop in a process of its own, so its peak RSS is its own and not this driver's."""
    code = f"import json, bench.peers as p; print(json.dumps(p.ours_steps({n})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT,
                         env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"our loop failed: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


SWE_REX_WHY = ("not measured: SWE-ReX's DockerDeployment runs its `swerex-remote` HTTP server in the "
               "container and reaches it through a published port (a bridge network), and installs it "
               "there with pip/pipx from the network; this engine has no bridge and sandboxes run with "
               "--network none")


def _inspect_possible() -> tuple[bool, str]:
    try:
        v = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"not measured: {exc}"
    engine = _engine()
    if v.returncode != 0:
        return False, (f"not measured: Inspect's docker sandbox needs Docker Compose v2 (none here); "
                       f"engine {engine}")
    major = tuple(int(x) for x in engine.split(".")[:3] if x.isdigit())
    if major < (24, 0, 6):
        return False, f"not measured: Inspect needs Docker Engine >= 24.0.6; this engine is {engine}"
    return True, ""


def _engine() -> str:
    try:
        return subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True,
                              text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def _print(r: dict) -> None:
    print(f"  peers: {r['versions']}   engine {r['engine']}   load {tuple(round(x, 2) for x in r['load'])}")
    mini_ready = r["ready_ms"]["mini"]
    for k, v in r["ready_ms"].items():
        print(f"  ready: {k:16s} {v:8.1f} ms   ({_ratio(v, mini_ready):.3f} x mini)")
    for cmd, v in r["roundtrip_ms"].items():
        extra = f", inspect {v['inspect']} ms" if "inspect" in v else ""
        print(f"  round trip `{cmd}`: ours {v['ours']} ms, mini {v['mini']} ms "
              f"({_ratio(v['ours'], v['mini'])} x){extra}")
    for s, v in r["step_ms"].items():
        print(f"  step {s:>4}: ours {v['ours']} ms, mini {v['mini']} ms ({_ratio(v['ours'], v['mini'])} x)")
    print(f"  peak RSS (MB) by step: ours {r['maxrss_mb']['ours']}, mini {r['maxrss_mb']['mini']}")
    print(f"  inspect: {r['inspect']}")
    print(f"  swe-rex: {r['swe_rex']}")


def _targets(r: dict) -> list[dict]:
    mini = r["ready_ms"]["mini"]
    single = r["ready_ms"]["ours overlapped"]
    pooled = r["ready_ms"]["ours pooled"]
    return [
        {"name": "single-run ready / mini's", "value": f"{_ratio(single, mini)}", "target": "<= 0.75",
         "met": single <= 0.75 * mini},
        {"name": "batch (pooled) ready / mini's", "value": f"{_ratio(pooled, mini)}", "target": "<= 0.1",
         "met": pooled <= 0.1 * mini},
    ]


def _write_doc(path: Path, r: dict) -> None:
    """Replace the table between the markers in docs/performance.md with this run's figures."""
    mini = r["ready_ms"]["mini"]
    lines = [f"Measured {time.strftime('%Y-%m-%d')} by `make bench-peers` on this machine (engine "
             f"{r['engine']}, load {', '.join(f'{x:.2f}' for x in r['load'])}; "
             f"mini-swe-agent {r['versions'].get('mini-swe-agent')}, inspect-ai "
             f"{r['versions'].get('inspect-ai')}; medians of {r['trials']} interleaved trials).", "",
             "| figure | ours | mini-swe-agent | ours / mini | Inspect AI |", "|---|---|---|---|---|"]
    insp = r["ready_ms"].get("inspect")
    for k in ("ours cold", "ours overlapped", "ours pooled"):
        lines.append(f"| ready, first command done ({k.split()[1]}) | {r['ready_ms'][k]} ms | {mini} ms | "
                     f"{_ratio(r['ready_ms'][k], mini)} | {f'{insp} ms' if insp else '—'} |")
    for cmd, v in r["roundtrip_ms"].items():
        lines.append(f"| round trip `{cmd}` | {v['ours']} ms | {v['mini']} ms | {_ratio(v['ours'], v['mini'])} | "
                     f"{str(v['inspect']) + ' ms' if 'inspect' in v else '—'} |")
    for s, v in r["step_ms"].items():
        lines.append(f"| step {s} (record saved every step) | {v['ours']} ms | {v['mini']} ms | "
                     f"{_ratio(v['ours'], v['mini'])} | — |")
    o, m = r["maxrss_mb"]["ours"], r["maxrss_mb"]["mini"]
    lines.append(f"| peak RSS at step 10 → {RSS_STEPS} | {o.get('10')} → {o.get(str(RSS_STEPS))} MB | "
                 f"{m.get('10')} → {m.get(str(RSS_STEPS))} MB | — | — |")
    lines += ["", f"Inspect AI: {r['inspect']}.", "", f"SWE-ReX: {r['swe_rex']}."]
    text = path.read_text()
    start, end = "<!-- bench-peers:start -->", "<!-- bench-peers:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    path.write_text(head + start + "\n" + "\n".join(lines) + "\n" + end + tail)


if __name__ == "__main__":
    args = sys.argv[1:]
    target = Path(args[args.index("--write") + 1]) if "--write" in args else None
    res = run(target)
    out = PROJECT_ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "peers.json").write_text(json.dumps(res, indent=2) + "\n")
    for t in res["targets"]:
        print(f"  [{'ok  ' if t['met'] else 'MISS'}] {t['name']}: {t['value']} (target {t['target']})")
