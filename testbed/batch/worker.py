"""A batch worker: a process that runs one job at a time, each in its own main thread, so the
runner's signal handling applies (SIGTERM ends the current run as `interrupted`, cleanly).

Protocol: the typed messages of testbed/batch/messages.py, one JSON object a line. The driver
writes `RunOp` (a `Job`), `PrepareOp` / `DiscardOp` (the warm pool: testbed/batch/pool.py) and
`ExitOp` to stdin; the worker answers `Ready`, `Started`, `StepMsg`,
`Finished` or `Failed` on its stdout (anything else it prints goes to stderr).

The worker dies with its parent: it asks the kernel for SIGTERM when the parent goes (and checks
the parent pid as well), so a driver killed with -9 leaves runs that end `interrupted` with their
containers removed, never runs that carry on unobserved.
"""
from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from testbed.batch import messages

PR_SET_PDEATHSIG = 1


def spawn_worker(env: dict[str, str] | None = None, stderr: IO[Any] | int | None = None) -> subprocess.Popen:
    """Start a worker in its own session: a Ctrl-C at the terminal reaches only the driver, which
    decides what the workers do. Call from a thread that lives as long as the worker (the main
    thread): the parent-death signal fires when the creating thread exits."""
    return subprocess.Popen([sys.executable, "-m", "testbed.batch.worker", str(os.getpid())],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                            env={**os.environ, **(env or {})}, start_new_session=True, bufsize=0)


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        kernel_watches = libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    except (OSError, AttributeError):
        kernel_watches = False
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
        return
    if kernel_watches:
        return  # one signal when the parent goes; a watch thread as well would send a second

    def watch() -> None:  # for systems without PR_SET_PDEATHSIG
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, daemon=True).start()


class _Out:
    def __init__(self, stream: IO[str]):
        self.stream = stream

    def send(self, msg: Any) -> None:
        try:
            self.stream.write(messages.encode(msg) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the driver is gone; the run directory is the record


class Stop(BaseException):
    """SIGTERM while no run is going: leave."""


class _Scorers:
    """The registered scorers, loaded in a thread as the worker starts (the tone models take a few
    seconds), so the first run does not wait for them: live tone is shown from the step they are
    ready on, and the end-of-run scoring waits for them."""

    def __init__(self) -> None:
        self.all: list[Any] | None = None
        self.tone: Any | None = None
        self.error: str | None = None
        self.ready = threading.Event()
        threading.Thread(target=self._load, name="scorers", daemon=True).start()

    def _load(self) -> None:
        try:
            from testbed.scoring import SCORERS, get_scorers
            self.all = get_scorers() if SCORERS else []
            self.tone = next((sc for sc in self.all if sc.name == "tone"), None)
        except Exception as exc:  # a broken optional scorer must not cost the run
            self.error = f"{type(exc).__name__}: {exc}"
            print(f"worker: scorers unavailable: {self.error}", file=sys.stderr, flush=True)
        finally:
            self.ready.set()


def _step_tone(scorer: Any, run_dir: Path, step: Any) -> messages.StepTone | None:
    from testbed.rundata import RunData
    value = scorer.score_run(RunData(path=run_dir, events=[step], steps=[step])).get(step.index)
    if isinstance(value, dict):
        return messages.StepTone(level=value.get("level"), p_frustrated=value.get("p_frustrated"))
    return None


def run_job(job: messages.Job, out: _Out, state: dict[str, Any], pool: Any = None) -> None:
    from testbed.batch.store import FileLock
    from testbed.models import load_model
    from testbed.env import default_factory
    from testbed.runner import run_scenario
    from testbed.spec import RunSpec
    from testbed.scenario import load_scenario
    from testbed.timeline import step_command

    run_id = job.run_id

    def failed(kind: str, exc: BaseException | str) -> None:
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        out.send(messages.Failed(run_id=run_id, kind=kind, reason=reason))

    lock = FileLock(Path(job.lock))
    if not lock.acquire(timeout=job.lock_wait, note=f"pid {os.getpid()} run {run_id}"):
        failed("lock", f"another process holds the run ({lock.holder_note() or 'unknown'})")
        return
    try:
        try:
            scenario = load_scenario(job.scenario)
        except Exception as exc:
            failed("scenario", exc)
            return
        try:
            model = load_model(job.model)
        except Exception as exc:  # an unknown spec, a missing key, a provider that is not installed
            failed("model", exc)
            return
        try:
            spec = RunSpec.for_scenario(scenario, model.name, job.seed, **job.knobs)
        except ValueError as exc:
            failed("spec", exc)
            return
        spec = spec.model_copy(update={"run_id": run_id, "batch": job.batch})
        run_dir_box: dict[str, Path] = {}
        cost: dict[str, float | None] = {"usd": 0.0}

        def on_start(run_dir: Path) -> None:
            run_dir_box["dir"] = run_dir
            out.send(messages.Started(run_id=run_id, run_dir=str(run_dir), pid=os.getpid()))

        def on_step(step: Any, tests: Any) -> None:
            c = step.usage.cost_usd
            cost["usd"] = None if c is None or cost["usd"] is None else cost["usd"] + c
            tone = None
            scorers = state.get("scorers")
            if scorers is not None and scorers.ready.is_set() and scorers.tone is not None \
                    and not state.get("no_live_tone"):
                try:
                    tone = _step_tone(scorers.tone, run_dir_box.get("dir", Path(".")), step)
                except Exception as exc:  # the live view falls back to test status from here on
                    print(f"worker: live tone scoring disabled after step {step.index}: "
                          f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    state["no_live_tone"] = True
            out.send(messages.StepMsg(
                run_id=run_id, index=step.index, tone=tone, cost_usd=cost["usd"], command=step_command(step)[:200],
                tests=None if tests is None else messages.StepTests(
                    passed=tests.passed, failed=tests.failed, errors=tests.errors, all_passed=tests.all_passed)))

        fresh = default_factory("docker")

        def env_factory(spec: Any, run_dir: Path) -> Any:
            return (pool.take(spec, run_dir) if pool is not None else None) or fresh(spec, run_dir)

        state["busy"] = True
        try:
            run_dir, result = run_scenario(spec, model, env_factory,
                                           runs_dir=Path(job.runs_dir), on_step=on_step, on_start=on_start)
        finally:
            state["busy"] = False
        scored = _score(run_dir, state.get("scorers")) if job.score and result.outcome != "interrupted" else None
        out.send(messages.Finished(run_id=run_id, outcome=result.outcome, reason=result.reason,
                                   steps=result.steps, cost_usd=result.cost_usd, run_dir=str(run_dir),
                                   scored=scored))
        if result.outcome == "interrupted":
            state["stop"] = True  # interrupted runs mean the driver wants this worker gone
    finally:
        lock.release()


def _score(run_dir: Path, scorers: "_Scorers | None") -> str | None:
    """scores.jsonl from the registered scorers (derived data; a failure is noted, never fatal)."""
    try:
        from testbed.scoring import score_run_dir
        scorers = scorers or _Scorers()
        scorers.ready.wait()
        if scorers.error is not None:
            return f"failed: {scorers.error}"
        if not scorers.all:
            return None
        score_run_dir(run_dir, scorers.all)
        return "ok"
    except Exception as exc:
        print(f"worker: scoring {run_dir} failed: {exc}", file=sys.stderr, flush=True)
        return f"failed: {type(exc).__name__}: {exc}"


def main(argv: list[str]) -> int:
    parent = int(argv[0]) if argv else os.getppid()
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides; it sends SIGTERM
    state: dict[str, Any] = {"busy": False, "stop": False}

    def on_term(signum: int, frame: Any) -> None:
        # Only reached between runs: during a run the runner's own handler is installed.
        raise Stop()

    signal.signal(signal.SIGTERM, on_term)
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints (image builds, libraries) must not corrupt the protocol
    sys.stdout = sys.stderr
    out = _Out(proto)
    from testbed.batch.pool import SandboxPool
    pool = SandboxPool()
    jobs: queue.Queue = queue.Queue()
    threading.Thread(target=_read_ops, args=(sys.stdin, jobs, pool), daemon=True).start()
    try:
        state["scorers"] = _Scorers()
        out.send(messages.Ready(pid=os.getpid()))
        while True:
            try:
                msg = jobs.get(timeout=0.5)  # a timeout, so SIGTERM is handled while idle
            except queue.Empty:
                continue
            if isinstance(msg, messages.ExitOp):
                break
            run_job(msg.job, out, state, pool)
            if state["stop"]:
                break
    except Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not leave a sandbox
        pool.drain()
    return 0


def _read_ops(stream: IO[str], jobs: queue.Queue, pool: Any) -> None:
    """The driver's messages, read while a run goes on: the pool's are handled at once, runs queue."""
    for line in stream:
        if not line.strip():
            continue
        msg = messages.decode_op(line)
        if msg is None:
            print(f"worker: not a driver message: {line[:200]!r}", file=sys.stderr, flush=True)
        elif isinstance(msg, messages.PrepareOp):
            pool.prepare(msg.job)
        elif isinstance(msg, messages.DiscardOp):
            pool.discard(msg.run_id)
        else:
            jobs.put(msg)
    jobs.put(messages.ExitOp())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
