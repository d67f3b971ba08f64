"""The peers' side of `make bench-peers`, run by the peers' own virtualenv (bench/.peers-venv): their
own code, timed in their own process. Never imports testbed. One JSON request on argv, one JSON
result on stdout.

  {"what": "mini-ready", "image": TAG, "trials": N}
  {"what": "mini-roundtrip", "image": TAG, "command": "true", "n": N}
  {"what": "mini-steps", "image": TAG, "steps": N, "text": NARRATION, "traj": PATH}
  {"what": "inspect-ready", "image": TAG, "trials": N}       (Inspect AI's docker sandbox)
  {"what": "inspect-roundtrip", "image": TAG, "command": "true", "n": N}
"""
from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import time

RUN_ARGS = ["--rm", "--network", "none"]  # this engine has no bridge; sandboxes have no network


def _mini_env(image: str):
    from minisweagent.environments.docker import DockerEnvironment
    return DockerEnvironment(image=image, cwd="/", run_args=RUN_ARGS, interpreter=["bash", "-lc"])


def _stop(env) -> None:
    subprocess.run(["docker", "rm", "-f", env.container_id], capture_output=True)


def mini_ready(req: dict) -> dict:
    out = []
    for _ in range(req["trials"]):
        t0 = time.perf_counter()
        env = _mini_env(req["image"])
        env.execute({"command": "true"})
        out.append((time.perf_counter() - t0) * 1000)
        _stop(env)
    return {"ready_ms": out}


def mini_roundtrip(req: dict) -> dict:
    env = _mini_env(req["image"])
    try:
        env.execute({"command": "true"})
        out = []
        for _ in range(req["n"]):
            t0 = time.perf_counter()
            env.execute({"command": req["command"]})
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        _stop(env)
    return {"ms": out}


def mini_steps(req: dict) -> dict:
    """mini-swe-agent's DefaultAgent on its DockerEnvironment with its DeterministicModel, saving
    its trajectory after every step as `agent.run` does: the time of every step and the process's
    peak RSS as the run grows."""
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.models.test_models import DeterministicModel
    logging.disable(logging.CRITICAL)
    n, text = req["steps"], req["text"]
    reply = {"role": "assistant", "content": f"{text}\n\n```mswea_bash_command\nls -la /etc | head -5\n```",
             "extra": {"actions": [{"command": "ls -la /etc | head -5"}]}}
    model = DeterministicModel(outputs=[reply] * (n + 1), cost_per_call=0.0)
    env = _mini_env(req["image"])
    agent = DefaultAgent(model, env, system_template="You are a helpful assistant.",
                         instance_template="Fix the failing test. {{task}}", step_limit=0, cost_limit=0,
                         output_path=req["traj"])
    agent.messages = []
    agent.add_messages(model.format_message(role="system", content="You are a helpful assistant."),
                       model.format_message(role="user", content="Fix the failing test."))
    times, rss = [], {}
    try:
        for i in range(1, n + 1):
            t0 = time.perf_counter()
            agent.step()
            agent.save(agent.config.output_path)  # what `run` does after every step
            times.append((time.perf_counter() - t0) * 1000)
            if i in (1, 10, 100, 300, 1000) or i == n:
                rss[i] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        _stop(env)
    return {"step_ms": times, "maxrss_kb": rss}


def _inspect_sandbox(image: str):
    """Inspect AI's own docker sandbox for one sample, as `eval` would start it."""
    import asyncio
    import tempfile
    from pathlib import Path

    from inspect_ai.util._sandbox.docker.docker import DockerSandboxEnvironment
    compose = Path(tempfile.mkdtemp(prefix="bench-inspect-")) / "compose.yaml"
    compose.write_text(f"services:\n  default:\n    image: {image}\n    command: tail -f /dev/null\n"
                       "    init: true\n    network_mode: none\n    x-default: true\n")
    return asyncio, DockerSandboxEnvironment, str(compose)


def inspect_ready(req: dict) -> dict:
    asyncio, Docker, compose = _inspect_sandbox(req["image"])

    async def main() -> list[float]:
        await Docker.task_init("bench", compose)
        out = []
        for _ in range(req["trials"]):
            t0 = time.perf_counter()
            envs = await Docker.sample_init("bench", compose, {})
            await envs["default"].exec(["true"])
            out.append((time.perf_counter() - t0) * 1000)
            await Docker.sample_cleanup("bench", compose, envs, False)
        await Docker.task_cleanup("bench", compose, True)
        return out

    return {"ready_ms": asyncio.run(main())}


def inspect_roundtrip(req: dict) -> dict:
    asyncio, Docker, compose = _inspect_sandbox(req["image"])

    async def main() -> list[float]:
        await Docker.task_init("bench", compose)
        envs = await Docker.sample_init("bench", compose, {})
        env = envs["default"]
        out = []
        for _ in range(req["n"]):
            t0 = time.perf_counter()
            await env.exec(["bash", "-c", req["command"]])
            out.append((time.perf_counter() - t0) * 1000)
        await Docker.sample_cleanup("bench", compose, envs, False)
        await Docker.task_cleanup("bench", compose, True)
        return out

    return {"ms": asyncio.run(main())}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ("mini-swe-agent", "swe-rex", "inspect-ai"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    fn = {"mini-ready": mini_ready, "mini-roundtrip": mini_roundtrip, "mini-steps": mini_steps,
          "inspect-ready": inspect_ready, "inspect-roundtrip": inspect_roundtrip,
          "versions": lambda r: versions()}[request["what"]]
    print(json.dumps(fn(request)))
