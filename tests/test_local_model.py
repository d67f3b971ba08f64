"""The offline model end to end: the real llama.cpp server with SmolLM2-135M (`local-small`),
started and stopped by the harness, talked to through the same OpenAI client as hosted servers,
acting in the real sandbox."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from testbed.log import read_events
from testbed.models import load_model
from testbed.models.compatible import ChatCompletionsModel
from testbed.runner import run
from testbed.scenario import load_scenario

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _servers_of(parent: int) -> list[int]:
    """llama.cpp servers whose parent is `parent`."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat.split(") ")[-1].split()[1]) == parent and b"llama_cpp.server" in cmd:
            found.append(int(d.name))
    return found


@pytest.mark.docker
def test_local_small_runs_in_the_real_sandbox_and_its_server_is_stopped(image, runs_dir):
    model = load_model("local-small")
    assert isinstance(model, ChatCompletionsModel)  # the client hosted servers get
    pids = []
    close = model.close

    def close_and_note():
        if model.server is not None and model.server.proc is not None:
            pids.append(model.server.proc.pid)
            assert _alive(pids[-1])
        close()
    model.close = close_and_note
    run_dir, result = run(load_scenario("interval-off-by-one"), model, seed=3, runs_dir=runs_dir, max_steps=3)
    assert result.outcome in ("budget_exhausted", "gave_up", "solved"), result.reason
    assert pids and not _alive(pids[0])  # stopped by PID at the end
    events = read_events(run_dir).events
    request = events[0].config["request"]
    assert request["provider"] == "local" and request["title"] == "SmolLM2-135M-Instruct Q4_1"
    assert request["gguf_sha256"].startswith("b179c952") and request["temperature"] == 0.7
    assert request["max_tokens"] == 512 and request["seed"] == "run_seed*1000+step" and request["api"] == "chat.completions"
    steps = [e for e in events if e.type == "step"]
    assert 1 <= len(steps) <= 3
    for s in steps:
        assert s.usage.input_tokens > 100 and s.usage.output_tokens > 0 and s.usage.cost_usd == 0.0
        assert s.usage.latency_ms > 0
        # each reply either yielded an action parsed from its text, or says why not
        if s.tool_calls:
            assert all(c.origin["source"] == "text" for c in s.tool_calls)
            assert len(s.observations) == len(s.tool_calls)
        else:
            assert s.parse_note
    # the prompt grows step by step: full history, no sliding window
    assert [s.usage.input_tokens for s in steps] == sorted(s.usage.input_tokens for s in steps)
    assert events[-1].type == "run_finished" and events[-1].cost_usd == 0.0


@pytest.mark.docker
def test_sigterm_during_a_local_run_stops_the_server(image, runs_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "testbed", "run", "interval-off-by-one", "--model",
                             "local-small", "--max-steps", "30", "--runs-dir", str(runs_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 180
        servers = []
        while time.monotonic() < deadline and not servers:
            servers = _servers_of(proc.pid)
            time.sleep(0.2)
        assert servers, "no llama.cpp server started"
        # wait until the run is under way (the first step is logged), then stop it
        while time.monotonic() < deadline:
            logs = list(runs_dir.glob("*/events.jsonl"))
            if logs and any(json.loads(line).get("type") == "step"
                            for line in logs[0].read_text().splitlines() if line.endswith("}")):
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not _alive(servers[0])
    run = json.loads(next(runs_dir.glob("*/run.json")).read_text())
    assert run["outcome"] == "interrupted"


def test_the_server_dies_with_a_killed_harness():
    code = ("import sys, time\n"
            "from testbed.models import assets\n"
            "from testbed.models.local import LlamaServer\n"
            "s = LlamaServer(assets.ready('local-small'), 2048, 1)\n"
            "s.start()\n"
            "print(s.proc.pid, flush=True)\n"
            "time.sleep(600)\n")
    harness = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    try:
        server = int(harness.stdout.readline())
        assert _alive(server)
        harness.kill()  # SIGKILL: no cleanup code runs in the harness
        harness.wait()
        deadline = time.monotonic() + 20
        while _alive(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(server)
    finally:
        if harness.poll() is None:
            harness.kill()
