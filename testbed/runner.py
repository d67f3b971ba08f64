"""One episode end to end: scenario + model → sandbox, shadow git, loop → a run directory."""
from __future__ import annotations

import os
import platform
import re
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from testbed import __version__
from testbed.agent.loop import AgentLoop, LoopConfig, LoopResult
from testbed.log import (EVENTS_FILE, RUN_FILE, SHADOW_DIR, ErrorEvent, EventWriter, NoticeEvent,
                         RunFinished, RunStarted, now_iso, write_json_atomic)
from testbed.models import load_model
from testbed.models.base import Model, ModelContext, ModelError
from testbed.scenario import Scenario

DEFAULT_RUNS_DIR = Path(os.environ.get("TESTBED_RUNS_DIR", "runs"))


class RunInterrupted(BaseException):
    """SIGTERM (or SIGINT) arrived while a run was going."""


@dataclass
class RunOverrides:
    max_steps: int | None = None
    wall_seconds: float | None = None
    cost_usd: float | None = None
    feedback: str | None = None
    give_up_tool: bool | None = None
    show_budget: bool | None = None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def new_run_id(scenario: str, model: str, seed: int) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{slug(scenario)}-{slug(model.split(':')[0])}-s{seed}-{secrets.token_hex(2)}"


def loop_config(scenario: Scenario, seed: int, o: RunOverrides) -> LoopConfig:
    b, p = scenario.budget, scenario.pressure
    pick = lambda override, default: default if override is None else override  # noqa: E731
    return LoopConfig(
        prompt=scenario.prompt, protected=scenario.protected, test_command=scenario.test_command,
        max_steps=pick(o.max_steps, b.steps), wall_seconds=pick(o.wall_seconds, b.wall_seconds),
        cost_usd=pick(o.cost_usd, b.cost_usd), command_timeout=b.command_timeout,
        test_timeout=b.test_timeout, feedback=pick(o.feedback, p.feedback),
        give_up_tool=pick(o.give_up_tool, p.give_up_tool), show_budget=pick(o.show_budget, p.show_budget),
        seed=seed)


def run_scenario(scenario: Scenario, model: Model | str, seed: int = 0, runs_dir: Path | None = None,
                 overrides: RunOverrides | None = None, run_id: str | None = None,
                 batch: str | None = None,
                 on_step: Callable[..., None] | None = None,
                 on_start: Callable[[Path], None] | None = None) -> tuple[Path, LoopResult]:
    from testbed.sandbox.docker import DockerSandbox, docker_client
    from testbed.sandbox.image import ensure_image
    from testbed.sandbox.workspace import ShadowRepo, prepare_workspace, remove_workspace, write_env_list

    model = load_model(model) if isinstance(model, str) else model
    overrides = overrides or RunOverrides()
    cfg = loop_config(scenario, seed, overrides)
    run_id = run_id or new_run_id(scenario.name, model.name, seed)
    run_dir = Path(runs_dir or DEFAULT_RUNS_DIR) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    if on_start:
        on_start(run_dir)
    log = EventWriter(run_dir / EVENTS_FILE, run_id)
    started_at, t0 = now_iso(), time.monotonic()
    result = LoopResult("error", "the run did not start", 0, None)
    sandbox = paths = None
    signals = _Signals()
    try:
        client = docker_client()
        image = ensure_image(quiet=False)
        paths = prepare_workspace(scenario.sandbox_dir(), run_id, scenario.protected)
        write_env_list(paths, scenario.env)
        shadow = ShadowRepo(run_dir / SHADOW_DIR, paths.workspace)
        initial = shadow.init()
        files = sorted(str(p.relative_to(paths.workspace)) for p in paths.workspace.rglob("*")
                       if p.is_file() and ".git" not in p.relative_to(paths.workspace).parts)
        sandbox = DockerSandbox(image, paths, run_id, scenario.protected, memory_mb=scenario.limits.memory_mb,
                                cpus=scenario.limits.cpus, pids=scenario.limits.pids, env=scenario.env,
                                batch=batch, client=client)
        log.write(RunStarted(
            run_id=run_id, scenario=scenario.name, model=model.name, seed=seed,
            config={"loop": cfg.__dict__, "scenario": scenario.model_dump(mode="json"),
                    "request": model.describe(), "image": image, "initial_commit": initial,
                    "batch": batch, "files": files},
            versions=_versions(client)))
        sandbox.start()
        if scenario.setup:
            res = sandbox.exec(scenario.setup, timeout=cfg.command_timeout)
            log.write(NoticeEvent(run_id=run_id, step=0, kind="setup",
                                  text=f"setup exited {res.exit_code}: {res.output[-2000:]}"))
        model.start(ModelContext(run_id=run_id, seed=seed, scenario=scenario.name,
                                 protected=scenario.protected, files=files,
                                 give_up_tool=cfg.give_up_tool,
                                 reference_patch=scenario.reference_patch(),
                                 test_command=scenario.test_command))
        loop = AgentLoop(model, sandbox, shadow, log, cfg, on_step=on_step)
        result = loop.run()
    except (KeyboardInterrupt, RunInterrupted):
        result = LoopResult("interrupted", "interrupted by a signal", _steps_so_far(log), None)
    except ModelError as exc:
        log.write(ErrorEvent(run_id=run_id, where="model", message=str(exc)))
        result = LoopResult("error", f"model error: {exc}", _steps_so_far(log), None)
    except Exception as exc:  # recorded, never lost: the log keeps every completed step
        log.write(ErrorEvent(run_id=run_id, where="harness", message=f"{type(exc).__name__}: {exc}"))
        result = LoopResult("error", f"{type(exc).__name__}: {exc}", _steps_so_far(log), None)
    finally:
        signals.shield()
        try:
            wall = round(time.monotonic() - t0, 3)
            log.write(RunFinished(run_id=run_id, outcome=result.outcome, reason=result.reason,
                                  steps=result.steps, wall_s=wall, cost_usd=result.cost_usd))
            log.close()
            summary = {"run_id": run_id, "scenario": scenario.name, "model": model.name, "seed": seed,
                       "outcome": result.outcome, "reason": result.reason, "steps": result.steps,
                       "wall_s": wall, "cost_usd": result.cost_usd, "started": started_at,
                       "finished": now_iso(), "batch": batch,
                       "sandbox_ready_ms": getattr(sandbox, "ready_ms", None),
                       "last_tests": None if result.last_tests is None else {
                           "passed": result.last_tests.passed, "failed": result.last_tests.failed,
                           "errors": result.last_tests.errors,
                           "all_passed": result.last_tests.all_passed},
                       "testbed_version": __version__}
            write_json_atomic(run_dir / RUN_FILE, summary)
        finally:
            try:
                model.close()
            finally:
                if sandbox is not None:
                    sandbox.close()
                if paths is not None:
                    remove_workspace(paths)
                signals.restore()
    return run_dir, result


def _steps_so_far(log: EventWriter) -> int:
    from testbed.log import read_events
    try:
        return sum(1 for e in read_events(log.path, strict=False).events if e.type == "step")
    except OSError:
        return 0


def _versions(client: Any) -> dict[str, Any]:
    try:
        docker_version = client.version().get("Version")
    except Exception:
        docker_version = None
    return {"testbed": __version__, "python": platform.python_version(), "docker": docker_version,
            "platform": platform.platform()}


class _Signals:
    """SIGTERM becomes RunInterrupted so cleanup runs (SIGINT already raises KeyboardInterrupt);
    while cleaning up, both are held off so a second signal cannot leave a container behind."""

    def __init__(self) -> None:
        self.active = threading.current_thread() is threading.main_thread()
        if self.active:
            self.previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
            signal.signal(signal.SIGTERM, self._raise)

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        raise RunInterrupted()

    def shield(self) -> None:
        if self.active:
            for s in self.previous:
                signal.signal(s, lambda signum, frame: None)

    def restore(self) -> None:
        if self.active:
            for s, handler in self.previous.items():
                signal.signal(s, handler)
