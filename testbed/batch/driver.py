"""The batch driver: hands runs to an executor's slots in plan order, within the global and
per-model concurrency limits and the total budgets, records every state change in the index as it
happens, and turns Ctrl-C into a graceful drain (first) or a clean interrupt (second).

It runs in the main thread, which owns the signal handlers; the runs themselves go on in worker
processes (or Ray tasks), whose own main threads end a run cleanly on SIGTERM.
"""
from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from testbed.batch.executors import Executor
from testbed.batch.messages import Failed, Finished, Job, Lost, Started, StepMsg
from testbed.batch.progress import BatchProgress, fmt_cost
from testbed.batch.spec import PlannedRun
from testbed.batch.store import CRASHED, FAILED, FINISHED, SKIPPED, BatchStore, inspect_run_dir


@dataclass
class Settings:
    concurrency: int
    model_limits: dict[str, int] = field(default_factory=dict)
    total_cost_usd: float | None = None
    total_wall_seconds: float | None = None
    stop_model_after_errors: int = 3
    score: bool = True
    lock_wait: float = 60.0
    pool: bool = True  # boot each worker's next sandbox while its current run goes on


@dataclass
class _Running:
    run: PlannedRun
    attempt: int
    started: float
    cost: float | None = 0.0


@dataclass
class DriveResult:
    stop_reason: str | None = None      # why new runs stopped starting early (budget, Ctrl-C)
    interrupted: bool = False           # running runs were interrupted
    ended: Counter = field(default_factory=Counter)  # this invocation: label -> n
    not_started: int = 0
    blocked: dict[str, str] = field(default_factory=dict)  # model or scenario -> reason


class Driver:
    def __init__(self, store: BatchStore, settings: Settings, executor: Executor, ui: BatchProgress,
                 max_steps_of: Any = None):
        self.store = store
        self.s = settings
        self.ex = executor
        self.ui = ui
        self.max_steps_of = max_steps_of or (lambda run: run.knobs.get("max_steps"))
        self.running: dict[int, _Running] = {}
        self.pending: list[PlannedRun] = []
        self.reserved: dict[int, PlannedRun] = {}  # slot -> the run it gets next (its sandbox booting)
        self.use_pool = settings.pool and getattr(executor, "supports_pool", False)
        self.blocked: dict[str, str] = {}  # "model:SPEC" / "scenario:NAME" -> reason
        self.error_streak: Counter = Counter()
        self.sigints = 0
        self.draining = False
        self.interrupt_requested = False
        self.interrupt_sent = False
        self.result = DriveResult()

    # -- signals -------------------------------------------------------------------------------
    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.sigints += 1
        self.draining = True
        if self.sigints >= 2:
            self.interrupt_requested = True

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.draining = True
        self.interrupt_requested = True

    # -- the loop ------------------------------------------------------------------------------
    def run(self, todo: list[PlannedRun]) -> DriveResult:
        self.pending = list(todo)
        self.t0 = time.monotonic()
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGINT, self._on_sigint)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        announced = ""
        try:
            while True:
                # Read the flags once: a signal may arrive at any point of this loop.
                wanted = "interrupting" if self.interrupt_requested else "draining" if self.draining else ""
                if wanted != announced:
                    self._announce(wanted)
                    announced = wanted
                if wanted == "interrupting" and not self.interrupt_sent:
                    self.interrupt_sent = True
                    self.result.interrupted = bool(self.running)
                    self.ex.interrupt()
                self._fill()
                if self._stopped():
                    self._release_all()
                if not self.running and (not self.pending or self._stopped()):
                    break
                for slot, msg in self.ex.poll(0.25):
                    self._handle(slot, msg)
                self._update_cost()
                self.ui.refresh()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
        self._release_all()
        self._settle_pending()
        return self.result

    def _announce(self, wanted: str) -> None:
        if wanted == "interrupting":
            self.ui.note(f"interrupting {len(self.running)} running run(s); they end as `interrupted` "
                         "and their sandboxes are removed")
            self.ui.set_status("interrupting")
        elif wanted == "draining":
            self.ui.note(f"Ctrl-C: no new runs start; {len(self.running)} running run(s) finish. "
                         "Ctrl-C again to interrupt them.")
            self.ui.set_status("draining (Ctrl-C again to interrupt)")

    def _stopped(self) -> bool:
        return self.draining or self.result.stop_reason is not None

    def _check_budgets(self) -> None:
        if self.result.stop_reason is not None:
            return
        spent = self._spent()
        if self.s.total_cost_usd is not None and spent >= self.s.total_cost_usd:
            self.result.stop_reason = (f"the total cost budget of {fmt_cost(self.s.total_cost_usd)} is "
                                       f"reached ({fmt_cost(spent)} spent)")
        elif (self.s.total_wall_seconds is not None
              and time.monotonic() - self.t0 >= self.s.total_wall_seconds):
            self.result.stop_reason = f"the total wall-time budget of {self.s.total_wall_seconds:g} s is used"
        if self.result.stop_reason:
            self.ui.note(f"budget: {self.result.stop_reason}; no new runs start")
            self.ui.set_status("budget reached")

    def _spent(self) -> float:
        ended, _ = self.store.spent()
        return ended + sum(r.cost or 0.0 for r in self.running.values())

    def _update_cost(self) -> None:
        ended, unknown = self.store.spent()
        live_unknown = sum(r.cost is None for r in self.running.values())
        self.ui.set_cost(ended + sum(r.cost or 0.0 for r in self.running.values()), unknown + live_unknown)

    def _fill(self) -> None:
        if self.draining:
            return
        self._check_budgets()
        if self.result.stop_reason is not None:
            return
        for slot in range(self.ex.slots):
            if slot in self.running:
                continue
            run = self.reserved.pop(slot, None)
            if run is not None and not self._model_has_room(run):
                self._release(slot, run)
                run = None
            run = run or self._next_run() or self._steal()
            if run is None:
                break
            self._start(slot, run)
        self._reserve()

    def _model_has_room(self, run: PlannedRun) -> bool:
        limit = self.s.model_limits.get(run.model)
        return limit is None or sum(r.run.model == run.model for r in self.running.values()) < limit

    # -- the warm pool: each busy worker boots the sandbox of the run it gets next ----------------
    def _reserve(self) -> None:
        if not self.use_pool:
            return
        for slot in sorted(self.running):
            if slot in self.reserved or not self.pending:
                continue
            run = self.reserved[slot] = self.pending.pop(0)
            self.ex.prepare(slot, self._job(run))

    def _steal(self) -> PlannedRun | None:
        """An idle slot with nothing pending takes a run reserved on a busy one (started cold)."""
        for slot, run in sorted(self.reserved.items()):
            if self._model_has_room(run):
                del self.reserved[slot]
                self.ex.discard(slot, run.run_id)
                return run
        return None

    def _release(self, slot: int, run: PlannedRun) -> None:
        self.ex.discard(slot, run.run_id)
        self.pending.insert(0, run)

    def _release_all(self) -> None:
        for slot, run in sorted(self.reserved.items(), reverse=True):
            self._release(slot, run)
        self.reserved.clear()

    def _next_run(self) -> PlannedRun | None:
        per_model = Counter(r.run.model for r in self.running.values())
        for i, run in enumerate(self.pending):
            limit = self.s.model_limits.get(run.model)
            if limit is not None and per_model[run.model] >= limit:
                continue
            return self.pending.pop(i)
        return None

    def _start(self, slot: int, run: PlannedRun) -> None:
        self.store.move_aside_if_present(run.run_id)  # never overwrite an earlier attempt
        attempt = self.store.start_attempt(run.run_id, worker=f"{self.ex.name}-{slot}",
                                           host=self.ex.host(slot), pid=None)
        job = self._job(run)
        self.running[slot] = _Running(run, attempt, time.monotonic())
        self.ui.run_started(slot, run, self.max_steps_of(run))
        self.ex.submit(slot, job)

    def _job(self, run: PlannedRun) -> Job:
        return Job(run_id=run.run_id, scenario=run.scenario, model=run.model, seed=run.seed, knobs=run.knobs,
                   batch=self.store.batch_id, runs_dir=str(self.store.runs_dir),
                   lock=str(self.store.run_lock(run.run_id)), score=self.s.score, lock_wait=self.s.lock_wait)

    # -- messages ------------------------------------------------------------------------------
    def _handle(self, slot: int, msg: Any) -> None:
        cur = self.running.get(slot)
        if cur is None or getattr(msg, "run_id", None) != cur.run.run_id:
            return  # a late progress message of a run that already ended (or a worker's Ready)
        if isinstance(msg, Started):
            self.store.set_attempt_pid(cur.run.run_id, msg.pid, msg.host)
            if msg.host:  # only remote executors say where a run went
                self.ui.started_on(slot, cur.run.run_id, msg.host)
        elif isinstance(msg, StepMsg):
            cur.cost = msg.cost_usd
            self.ui.step(slot, msg)
        elif isinstance(msg, Finished):
            self._ended_from_dir(slot, cur, msg)
        elif isinstance(msg, Failed):
            self._failed(slot, cur, msg)
        elif isinstance(msg, Lost):
            self._ended_from_dir(slot, cur, msg, lost=True)

    def _ended_from_dir(self, slot: int, cur: _Running, msg: Any, lost: bool = False) -> None:
        """The run directory decides how a run ended; the worker's message only fills gaps."""
        run_id = cur.run.run_id
        seen = inspect_run_dir(self.store.run_dir(run_id))
        if seen.state == "absent":
            if lost:
                state, outcome, reason = CRASHED, None, msg.reason
            else:  # a result that never reached the batch directory
                state, outcome, reason = CRASHED, msg.outcome, "no run directory came back"
            steps, cost, wall = 0, getattr(msg, "cost_usd", None), None
        else:
            state, outcome, reason = seen.state, seen.outcome, seen.reason
            steps, cost, wall = seen.steps, seen.cost_usd, seen.wall_s
            if lost and state == CRASHED:
                reason = f"{msg.reason}; {reason}"
        self.store.end_attempt(run_id, state, outcome, reason, steps, cost, wall)
        label = outcome if state == FINISHED else state
        self.result.ended[label] += 1
        self._track_model_errors(cur.run, state, outcome, reason)
        detail = f"{steps} steps, {fmt_cost(cost)}" + (f" — {reason}" if state != FINISHED or
                                                       outcome == "error" else "")
        scored = getattr(msg, "scored", None)
        if scored not in (None, "ok"):
            detail += f" (scores: {scored})"
        del self.running[slot]
        self.ui.run_ended(slot, run_id, label, detail)

    def _failed(self, slot: int, cur: _Running, msg: Failed) -> None:
        run = cur.run
        kind, reason = msg.kind, msg.reason
        if kind == "model":
            reason = f"model {run.model!r} could not be loaded: {reason}"
            self._block(f"model:{run.model}", reason, lambda r: r.model == run.model)
        elif kind == "scenario":
            reason = f"scenario {run.scenario!r} could not be loaded: {reason}"
            self._block(f"scenario:{run.scenario}", reason, lambda r: r.scenario == run.scenario)
        self.store.end_attempt(run.run_id, FAILED, None, reason, 0, 0.0, None)
        self.result.ended[FAILED] += 1
        del self.running[slot]
        self.ui.run_ended(slot, run.run_id, FAILED, reason)

    def _track_model_errors(self, run: PlannedRun, state: str, outcome: str | None, reason: str) -> None:
        limit = self.s.stop_model_after_errors
        if state != FINISHED or not limit:
            return
        if outcome == "error" and reason.startswith("model error"):
            self.error_streak[run.model] += 1
            if self.error_streak[run.model] >= limit:
                self._block(f"model:{run.model}",
                            f"model {run.model!r} stopped after {limit} consecutive model errors "
                            f"(last: {reason})", lambda r: r.model == run.model)
        else:
            self.error_streak[run.model] = 0

    def _block(self, key: str, reason: str, match: Any) -> None:
        """Fail the pending runs that share a broken model or scenario; the batch goes on."""
        if key in self.blocked:
            return
        self.blocked[key] = reason
        self.result.blocked[key] = reason
        for slot, run in sorted(self.reserved.items()):
            if match(run):
                del self.reserved[slot]
                self._release(slot, run)
        doomed = [r for r in self.pending if match(r)]
        self.pending = [r for r in self.pending if not match(r)]
        for r in doomed:
            self.store.mark(r.run_id, FAILED, reason)
        self.ui.ended_unstarted(FAILED, len(doomed))
        self.ui.note(f"{reason}; {len(doomed)} more run(s) of it fail without starting")

    def _settle_pending(self) -> None:
        self.result.not_started = len(self.pending)
        if self.result.stop_reason and not self.draining:
            for r in self.pending:
                self.store.mark(r.run_id, SKIPPED, f"not started: {self.result.stop_reason}")
            if self.pending:
                self.ui.count(SKIPPED, len(self.pending))
        elif self.pending:
            for r in self.pending:
                self.store.mark(r.run_id, "pending", "not started: the batch was stopped")
        self.pending = []
