"""One episode end to end: a RunSpec + a model + an environment → a run directory.

`run_scenario` knows nothing about Docker: the environment comes from `env_factory(spec, run_dir)`
(the Docker sandbox by default; `LocalEnvironment` in the loop's unit tests). It owns the run
directory's lock (held for the life of the run, so a later invocation can tell a live run from one
whose process was killed), signal handling and cleanup.
"""
from __future__ import annotations

import os
import platform
import re
import secrets
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from testbed import __version__
from testbed.agent.loop import AgentLoop, HarnessError, LoopResult
from testbed.log import (EVENTS_FILE, RUN_FILE, ErrorEvent, EventWriter, NoticeEvent, RunFinished,
                         RunStarted, now_iso, write_json_atomic)
from testbed.models import load_model
from testbed.models.base import Model, ModelContext, ModelError
from testbed.runlock import RunLock
from testbed.spec import RunSpec

DEFAULT_RUNS_DIR = Path(os.environ.get("TESTBED_RUNS_DIR", "runs"))


class RunInterrupted(BaseException):
    """SIGTERM (or SIGINT) arrived while a run was going."""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def new_run_id(scenario: str, model: str, seed: int) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{slug(scenario)}-{slug(model.split(':')[0])}-s{seed}-{secrets.token_hex(2)}"


def run(scenario: Any, model: Model | str, seed: int = 0, runs_dir: Path | None = None,
        env: str = "docker", **knobs: Any) -> tuple[Path, LoopResult]:
    """Convenience: a scenario (object or name) and flat knobs (`max_steps=3`) → one episode."""
    from testbed.env import default_factory
    from testbed.scenario import load_scenario
    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    model_name = model if isinstance(model, str) else model.name
    spec = RunSpec.for_scenario(scenario, model_name, seed, **knobs)
    return run_scenario(spec, model, default_factory(env), runs_dir=runs_dir)


def run_scenario(spec: RunSpec, model: Model | str, env_factory: Callable[..., Any] | None = None,
                 runs_dir: Path | None = None,
                 on_step: Callable[..., None] | None = None,
                 on_start: Callable[[Path], None] | None = None,
                 prepare: Callable[[Any, Any], Any] | None = None) -> tuple[Path, LoopResult]:
    """Run one episode. `prepare(env, log)`, when given, runs after the environment started and
    returns `(first_step, messages, tests)` for `AgentLoop.run` (how a branch resumes)."""
    if env_factory is None:
        from testbed.env import default_factory
        env_factory = default_factory("docker")
    model = load_model(model) if isinstance(model, str) else model
    run_id = spec.run_id or new_run_id(spec.scenario, model.name, spec.seed)
    spec = spec.model_copy(update={"run_id": run_id})
    run_dir = Path(runs_dir or DEFAULT_RUNS_DIR) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run_dir)
    lock.acquire()
    if on_start:
        on_start(run_dir)
    log = EventWriter(run_dir / EVENTS_FILE, run_id)
    started_at, t0 = now_iso(), time.monotonic()
    result = LoopResult("error", "the run did not start", 0, None)
    env: Any = None
    signals = _Signals()
    try:
        env = env_factory(spec, run_dir)
        env.start()
        sources = prompt_sources(env, model)
        log.write(RunStarted(
            run_id=run_id, scenario=spec.scenario, model=model.name, seed=spec.seed,
            config={"spec": spec.model_dump(mode="json"), "loop": {**spec.knobs(), "protected": spec.task.protected},
                    "scenario": {"name": spec.scenario, "protected": spec.task.protected,
                                 "test_command": spec.task.test_command, "solvable": spec.task.solvable},
                    "request": model.describe(), "env": env.describe(), "image": env.describe().get("image"),
                    "initial_commit": env.initial_commit, "batch": spec.batch, "files": env.files,
                    "prompt_sources": sorted(sources),
                    "branch": None if spec.branch is None else spec.branch.model_dump(),
                    "owner": lock.owner},
            versions=_versions(env)))
        setup = getattr(env, "setup_result", None)
        if setup is not None:
            log.write(NoticeEvent(run_id=run_id, step=0, kind="setup",
                                  text=f"setup exited {setup.exit_code}: {setup.output[-2000:]}"))
        task = spec.task
        model.start(ModelContext(run_id=run_id, seed=spec.seed, scenario=spec.scenario,
                                 protected=task.protected, files=env.files,
                                 give_up_tool=spec.pressure.give_up_tool,
                                 reference_patch=task.reference_patch, test_command=task.test_command,
                                 sources=sources))
        loop = AgentLoop(model, env, log, spec, on_step=on_step)
        if prepare is not None:
            first, messages, tests, horizon = prepare(env, log)
            if hasattr(model, "resume"):  # a model with state of its own (simulated) picks up the branch
                model.resume(messages)
            result = loop.run(first_step=first, messages=messages, tests=tests, stop_after=horizon)
        else:
            result = loop.run()
    except (KeyboardInterrupt, RunInterrupted):
        result = LoopResult("interrupted", "interrupted by a signal", _steps_so_far(log), None)
    except ModelError as exc:
        log.write(ErrorEvent(run_id=run_id, where="model", message=_one_line(exc)))
        result = LoopResult("error", f"model error: {_one_line(exc)}", _steps_so_far(log), None)
    except Exception as exc:  # recorded, never lost: the log keeps every completed step
        where = "harness" if isinstance(exc, HarnessError) else "harness"
        log.write(ErrorEvent(run_id=run_id, where=where, message=f"{type(exc).__name__}: {_one_line(exc)}"))
        result = LoopResult("error", f"{type(exc).__name__}: {_one_line(exc)}", _steps_so_far(log), None)
    finally:
        signals.shield()
        try:
            wall = round(time.monotonic() - t0, 3)
            log.write(RunFinished(run_id=run_id, outcome=result.outcome, reason=result.reason,
                                  steps=result.steps, wall_s=wall, cost_usd=result.cost_usd))
            log.close()
            last = result.last_tests
            summary = {"run_id": run_id, "scenario": spec.scenario, "model": model.name, "seed": spec.seed,
                       "outcome": result.outcome, "reason": result.reason, "steps": result.steps,
                       "wall_s": wall, "cost_usd": result.cost_usd, "started": started_at,
                       "finished": now_iso(), "batch": spec.batch,
                       "branch": None if spec.branch is None else spec.branch.model_dump(),
                       "sandbox_ready_ms": getattr(env, "ready_ms", None),
                       "sandbox_start_ms": getattr(env, "start_ms", None),
                       "sandbox_pooled": getattr(env, "pooled", None),
                       "sandbox_container": getattr(env, "container_id", None),
                       "last_tests": None if last is None else {
                           "passed": last.passed, "failed": last.failed, "errors": last.errors,
                           "all_passed": last.all_passed, "verdict_basis": getattr(last, "verdict_basis", None)},
                       "testbed_version": __version__}
            write_json_atomic(run_dir / RUN_FILE, summary)
        finally:
            try:
                model.close()
            finally:
                try:
                    if env is not None:
                        env.close()
                finally:
                    lock.release()
                    signals.restore()
    return run_dir, result


def prompt_sources(env: Any, model: Any) -> dict[str, str]:
    """The code a shell-protocol model is shown in its prompt: the code files of the environment's
    initial commit, read from the shadow git (other protocols are shown none)."""
    from testbed.models import protocol
    shadow, commit = getattr(env, "shadow", None), getattr(env, "initial_commit", None)
    if getattr(model, "protocol", None) != protocol.SHELL or shadow is None or not commit:
        return {}
    return protocol.code_sources(list(env.files), lambda path: shadow.show_file(commit, path))


def recorded_sources(run_dir: Path, config: dict[str, Any]) -> dict[str, str]:
    """The code a recorded run was shown (`config.prompt_sources`), read back from its shadow git."""
    names, commit = config.get("prompt_sources") or [], config.get("initial_commit")
    if not names or not commit:
        return {}
    from testbed.log import SHADOW_DIR
    from testbed.sandbox.shadow import ShadowRepo
    shadow = ShadowRepo(Path(run_dir) / SHADOW_DIR, Path(run_dir))
    return {name: shadow.show_file(commit, name) for name in names}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:500] + ("…" if len(text) > 500 else "")


def _steps_so_far(log: EventWriter) -> int:
    from testbed.log import read_events
    try:
        return sum(1 for e in read_events(log.path, strict=False).events if e.type == "step")
    except OSError:
        return 0


def _versions(env: Any) -> dict[str, Any]:
    return {"testbed": __version__, "python": platform.python_version(),
            "docker": getattr(env, "docker_version", lambda: None)(),
            "platform": platform.platform()}


class _Signals:
    """SIGTERM becomes RunInterrupted (and SIGINT KeyboardInterrupt) so cleanup runs. Only the
    first signal raises: a second one landing while the first unwinds the loop (a dying batch
    driver's worker gets two, the kernel's parent-death signal and its own parent watch; a user
    presses Ctrl-C twice) would otherwise escape the handler that records `interrupted`. While
    cleaning up, both are held off so a late signal cannot leave a container behind."""

    def __init__(self) -> None:
        self.active = threading.current_thread() is threading.main_thread()
        self.received: list[int] = []
        if self.active:
            self.previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
            signal.signal(signal.SIGTERM, self._raise)
            if self.previous[signal.SIGINT] is signal.default_int_handler:  # not where SIGINT is ignored
                signal.signal(signal.SIGINT, self._raise)

    def _raise(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        if len(self.received) > 1:
            return  # the run is already ending
        raise KeyboardInterrupt() if signum == signal.SIGINT else RunInterrupted()

    def shield(self) -> None:
        if self.active:
            for s in self.previous:
                signal.signal(s, lambda signum, frame: None)

    def restore(self) -> None:
        if self.active:
            for s, handler in self.previous.items():
                signal.signal(s, handler)
