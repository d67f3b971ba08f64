"""One invocation of `testbed batch`: plan, batch directory, executor, driver, summary, report."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from testbed.batch.driver import Driver, DriveResult, Settings
from testbed.batch.ids import new_batch_id
from testbed.batch.progress import BatchProgress
from testbed.batch.spec import BatchPlan, BatchSpecError, load_batch_file
from testbed.batch.store import (MANIFEST, SPEC_COPY, BatchBusy, BatchStore, BatchStoreError)
from testbed.log import now_iso, write_json_atomic

__all__ = ["run_batch", "resolve_plan", "output_dir", "BatchSpecError", "BatchStoreError", "BatchBusy",
           "BatchRun"]

EXECUTORS = ("local", "ray")


@dataclass
class BatchRun:
    out: Path
    batch_id: str
    result: DriveResult
    summary: dict[str, Any]
    exit_code: int


def resolve_plan(target: Path | str) -> tuple[BatchPlan, Path | None]:
    """A batch file, or a batch directory (then its own copy of the file, and that directory)."""
    target = Path(target)
    if target.is_dir():
        if not (target / MANIFEST).is_file():
            raise BatchSpecError(f"{target}: a directory without {MANIFEST}; give a batch file (.toml)")
        return load_batch_file(target / SPEC_COPY), target
    return load_batch_file(target), None


def output_dir(plan: BatchPlan, override: Path | None = None) -> Path:
    if override is not None:
        return Path(override)
    if plan.spec.output:
        return Path(plan.spec.output)
    from testbed.runner import DEFAULT_RUNS_DIR, slug
    return Path(DEFAULT_RUNS_DIR) / f"batch-{slug(plan.name)}"


def run_batch(target: Path | str, *, resume: bool = False, concurrency: int | None = None,
              executor: str = "local", address: str | None = None, output: Path | None = None,
              retry_errors: bool = False, console: Console | None = None,
              progress_console: Console | None = None, live: bool | None = None,
              argv: list[str] | None = None, pool: bool = True) -> BatchRun:
    if executor not in EXECUTORS:
        raise BatchSpecError(f"unknown executor {executor!r}; expected one of: {', '.join(EXECUTORS)}")
    if concurrency is not None and concurrency < 1:
        raise BatchSpecError("--concurrency must be at least 1")
    plan, found_dir = resolve_plan(target)
    out = output_dir(plan, output or found_dir)
    console = console or Console()
    progress_console = progress_console or Console(stderr=True, soft_wrap=not sys.stderr.isatty())
    if resume or found_dir is not None:
        store = BatchStore.open(out, plan)
    else:
        store = BatchStore.create(out, plan, new_batch_id(plan.name))
    try:
        store.lock()
        return _run_locked(store, plan, out, resume or found_dir is not None, concurrency, executor,
                           address, retry_errors, console, progress_console, live, argv or [], pool)
    finally:
        store.close()


def _run_locked(store: BatchStore, plan: BatchPlan, out: Path, resuming: bool, concurrency: int | None,
                executor_name: str, address: str | None, retry_errors: bool, console: Console,
                progress_console: Console, live: bool | None, argv: list[str], pool: bool = True) -> BatchRun:
    spec = plan.spec
    slots = concurrency or spec.concurrency
    if resuming:
        seen = store.reconcile()
        if retry_errors:
            seen["retry_errors"] = store.retry_errors()
        store.requeue()
        progress_console.print(f"resuming batch {store.batch_id} in {out}: {seen['kept']} run(s) already "
                               f"finished, {seen['moved_aside']} earlier attempt(s) moved to attempts/",
                               highlight=False)
    todo = store.todo()
    settings = Settings(concurrency=slots, model_limits=plan.model_limits,
                        total_cost_usd=spec.budget.total_cost_usd,
                        total_wall_seconds=spec.budget.total_wall_seconds,
                        stop_model_after_errors=spec.budget.stop_model_after_errors, score=spec.score,
                        pool=pool)
    executor = _make_executor(executor_name, slots, store, address)
    store.begin_invocation(executor_name, argv)
    result = DriveResult()
    try:
        removed = executor.cleanup(store.batch_id)
        if removed:
            progress_console.print(f"removed {removed} orphaned container(s) of batch {store.batch_id}")
        from testbed.sandbox.cleanup import sweep
        sweep()  # what single runs killed earlier left behind (other batches' runs are their own)
        ui = BatchProgress(progress_console, total=len(todo), slots=slots,
                           title=f"{plan.name} ({store.batch_id})", cost_budget=spec.budget.total_cost_usd,
                           live=live)
        progress_console.print(f"batch {store.batch_id}: {len(todo)} of {len(plan.runs)} run(s) to do, "
                               f"{slots} at a time ({executor_name}) → {out}", highlight=False)
        with ui:
            result = Driver(store, settings, executor, ui).run(todo)
    finally:
        removed = executor.close(store.batch_id)
        if removed:
            progress_console.print(f"removed {removed} leftover container(s) of batch {store.batch_id}")
        work = getattr(executor, "work_dir", None)
        if work is not None:  # workspaces of runs that crashed; their record is in the run directories
            from testbed.sandbox.workspace import remove_tree
            remove_tree(work)  # their quota mounts first
    if plan.spec.intervene is not None and not result.interrupted:
        _intervene(store, plan.spec.intervene, out, console)
    summary = _finish(store, plan, out, result, console)
    code = _exit_code(store, result)
    store.end_invocation(json.dumps({"exit": code, "stop_reason": result.stop_reason,
                                     "interrupted": result.interrupted}))
    return BatchRun(out=out, batch_id=store.batch_id, result=result, summary=summary, exit_code=code)


def _make_executor(name: str, slots: int, store: BatchStore, address: str | None) -> Any:
    if name == "ray":
        from testbed.batch.ray_executor import RayExecutor, RayUnavailable
        try:
            return RayExecutor(slots, store.runs_dir, store.move_aside_if_present, address=address)
        except RayUnavailable as exc:
            raise BatchSpecError(str(exc)) from None
        except ConnectionError as exc:
            raise BatchSpecError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    if address:
        raise BatchSpecError("--address only applies to --executor ray")
    from testbed.batch.executors import LocalExecutor
    from testbed.sandbox.workspace import work_root
    # Workers import this very copy of the project, whatever their working directory.
    env = {"PYTHONPATH": os.pathsep.join(p for p in [str(Path(__file__).resolve().parents[2]),
                                                     os.environ.get("PYTHONPATH", "")] if p)}
    return LocalExecutor(slots, store.workers_dir, work_root() / f"batch-{store.batch_id}", env)


def _finish(store: BatchStore, plan: BatchPlan, out: Path, result: DriveResult, console: Console) -> dict:
    from testbed.batch.summary import print_summary, run_report
    summary = print_summary(store, console)
    if result.stop_reason:
        console.print(f"stopped early: {result.stop_reason}", style="yellow")
    elif result.not_started:
        console.print(f"{result.not_started} run(s) not started; continue with "
                      f"`testbed batch {out} --resume`", style="yellow")
    summary.update({"batch_id": store.batch_id, "finished": now_iso(), "stop_reason": result.stop_reason,
                    "interrupted": result.interrupted, "blocked": result.blocked})
    if plan.spec.report and not result.interrupted and not (result.not_started and not result.stop_reason):
        dirs = [store.runs_dir] + ([out / "branches"] if (out / "branches").is_dir() else [])
        note = run_report(dirs, out / "report.json", console)
        console.print(note, style="dim")
        summary["report"] = note
    write_json_atomic(out / "summary.json", summary)
    return summary


def _intervene(store: BatchStore, iv: Any, out: Path, console: Console) -> None:
    """The batch's `[intervene]` section: continuations of its finished runs into out/branches/."""
    from testbed.interventions import parse_arms, run_intervention
    from testbed.rundata import load_run
    arms = parse_arms(",".join(iv.arms))
    dest = out / "branches"
    done = 0
    for row in store.rows():
        if row["state"] != "finished":
            continue
        run = load_run(store.run_dir(row["run_id"]))
        has_d1 = any("D1" in ((s.get("actions") or {}).get("classes") or [])
                     for s in run.read_scores() or [] if s.get("type") == "step")
        if (iv.runs == "with-d1" and not has_d1) or (iv.runs == "without-d1" and has_d1):
            continue
        if iv.at == "before-d1" and not has_d1:
            continue
        existing = {p.name for p in dest.glob(f"{run.run_id[:48]}-b*")} if dest.is_dir() else set()
        if existing:  # a resumed batch: these continuations exist already
            continue
        try:
            made = run_intervention(run.path, iv.at, arms, iv.n, iv.horizon, dest, rewriter=iv.rewriter)
            done += len(made)
        except ValueError as exc:
            console.print(f"intervene: {run.run_id}: {exc}", style="yellow", markup=False)
    console.print(f"intervene: {done} continuation(s) in {dest}", highlight=False)


def _exit_code(store: BatchStore, result: DriveResult) -> int:
    if result.interrupted or result.not_started and not result.stop_reason:
        return 130
    counts = store.counts()
    open_runs = sum(n for k, n in counts.items() if k in ("pending", "running", "interrupted", "crashed",
                                                          "failed", "skipped"))
    return 0 if open_runs == 0 else 1
