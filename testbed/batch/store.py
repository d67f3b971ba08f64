"""The batch directory: its manifest, its SQLite index of run states, and the locks that keep two
processes from ever working on the same batch or the same run at once.

    OUT/batch.json      the manifest: batch id, the plan (every run and its knobs), written once
    OUT/batch.toml      the batch file as it was when the batch was created
    OUT/batch.sqlite    runs (one row per planned run: state, outcome, cost) and attempts (history)
    OUT/runs/RUN_ID/    the current attempt of each run (a normal run directory)
    OUT/attempts/RUN_ID/N/   earlier attempts that were interrupted or crashed, moved aside intact
    OUT/locks/          batch.lock (the driver) and RUN_ID.lock (the process running that run)
    OUT/workers/        each worker process's stderr

The run directories are the record; the index is rebuilt from them on resume wherever they
disagree (a batch killed with -9 may not have written its last state changes).
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from testbed.batch.ids import plan_hash
from testbed.batch.spec import BatchPlan, PlannedRun, describe_plan
from testbed.log import EVENTS_FILE, now_iso, read_events, write_json_atomic
from testbed.runlock import FileLock  # noqa: F401  (re-exported: batch code imports it from here)

MANIFEST = "batch.json"
SPEC_COPY = "batch.toml"
INDEX = "batch.sqlite"

# Run states in the index. Only `finished` is done; resume runs everything else again.
PENDING, RUNNING, FINISHED = "pending", "running", "finished"
INTERRUPTED, CRASHED, FAILED, SKIPPED = "interrupted", "crashed", "failed", "skipped"
STATES = (PENDING, RUNNING, FINISHED, INTERRUPTED, CRASHED, FAILED, SKIPPED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, position INTEGER NOT NULL, scenario TEXT NOT NULL, model TEXT NOT NULL,
    seed INTEGER NOT NULL, knobs TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT, reason TEXT,
    steps INTEGER, cost_usd REAL, cost_known INTEGER NOT NULL DEFAULT 1, wall_s REAL,
    attempts INTEGER NOT NULL DEFAULT 0, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL, attempt INTEGER NOT NULL, state TEXT NOT NULL, outcome TEXT, reason TEXT,
    steps INTEGER, cost_usd REAL, cost_known INTEGER NOT NULL DEFAULT 1, started TEXT, finished TEXT,
    worker TEXT, host TEXT, pid INTEGER, dir TEXT, PRIMARY KEY (run_id, attempt));
CREATE TABLE IF NOT EXISTS invocations (
    n INTEGER PRIMARY KEY AUTOINCREMENT, pid INTEGER, started TEXT, finished TEXT, executor TEXT,
    argv TEXT, result TEXT);
"""


class BatchStoreError(Exception):
    """The batch directory cannot be used as asked (the message says why and what to do)."""


class BatchBusy(BatchStoreError):
    pass


@dataclass
class DirState:
    """What a run directory says about its run."""

    state: str            # finished | interrupted | crashed | failed | absent
    outcome: str | None = None
    reason: str = ""
    steps: int = 0
    cost_usd: float | None = 0.0
    wall_s: float | None = None


def inspect_run_dir(run_dir: Path) -> DirState:
    """Classify a run directory by its events: finished only with a run_started and a
    run_finished whose outcome is not `interrupted` (a run that never started is `failed`)."""
    events_path = run_dir / EVENTS_FILE
    if not events_path.is_file():
        return DirState("absent" if not run_dir.exists() else "crashed",
                        reason="" if not run_dir.exists() else "no events were written")
    read = read_events(events_path, strict=False)
    started = finished = None
    steps, cost = 0, 0.0
    cost_known = True
    for e in read.events:
        if e.type == "run_started":
            started = e
        elif e.type == "run_finished":
            finished = e
        elif e.type == "step":
            steps += 1
            if e.usage.cost_usd is None:
                cost_known = False
            else:
                cost += e.usage.cost_usd
    spent = round(cost, 6) if cost_known else None
    if finished is None:
        return DirState(CRASHED, reason="the run ended without a run_finished event (killed)",
                        steps=steps, cost_usd=spent)
    if finished.outcome == "interrupted":
        return DirState(INTERRUPTED, "interrupted", finished.reason, steps, spent, finished.wall_s)
    if started is None:
        return DirState(FAILED, finished.outcome, f"the run did not start: {finished.reason}", steps,
                        spent, finished.wall_s)
    return DirState(FINISHED, finished.outcome, finished.reason, finished.steps, finished.cost_usd,
                    finished.wall_s)


class BatchStore:
    def __init__(self, out: Path, manifest: dict[str, Any]):
        self.out = Path(out)
        self.manifest = manifest
        self.batch_id: str = manifest["batch_id"]
        self.db = sqlite3.connect(self.out / INDEX, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)
        self._lock = FileLock(self.locks_dir / "batch.lock")
        self.invocation: int | None = None

    # -- paths ---------------------------------------------------------------------------------
    @property
    def runs_dir(self) -> Path:
        return self.out / "runs"

    @property
    def attempts_dir(self) -> Path:
        return self.out / "attempts"

    @property
    def locks_dir(self) -> Path:
        return self.out / "locks"

    @property
    def workers_dir(self) -> Path:
        return self.out / "workers"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def run_lock(self, run_id: str) -> Path:
        return self.locks_dir / f"{run_id}.lock"

    # -- creating and opening ------------------------------------------------------------------
    @classmethod
    def exists(cls, out: Path) -> bool:
        return (Path(out) / MANIFEST).is_file()

    @classmethod
    def create(cls, out: Path, plan: BatchPlan, batch_id: str) -> "BatchStore":
        out = Path(out)
        if cls.exists(out):
            raise BatchStoreError(f"{out} already holds a batch; continue it with --resume or "
                                  "choose another output directory")
        for sub in ("runs", "attempts", "locks", "workers"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        (out / SPEC_COPY).write_text(plan.text, encoding="utf-8")
        manifest = {"v": 1, "batch_id": batch_id, "name": plan.name, "created": now_iso(),
                    "spec_file": str(plan.path), "plan_hash": plan_hash(r.run_id for r in plan.runs),
                    "plan": describe_plan(plan), "runs": [r.as_dict() for r in plan.runs]}
        store = cls(out, manifest)
        with store.transaction():
            for r in plan.runs:
                store.db.execute(
                    "INSERT OR IGNORE INTO runs (run_id, position, scenario, model, seed, knobs, state,"
                    " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.run_id, r.position, r.scenario, r.model, r.seed, json.dumps(r.knobs, sort_keys=True),
                     PENDING, now_iso()))
        write_json_atomic(out / MANIFEST, manifest)  # last: a batch exists once its index is complete
        return store

    @classmethod
    def open(cls, out: Path, plan: BatchPlan | None = None) -> "BatchStore":
        out = Path(out)
        try:
            manifest = json.loads((out / MANIFEST).read_text())
        except FileNotFoundError:
            raise BatchStoreError(f"{out} holds no batch ({MANIFEST} is missing); start it without "
                                  "--resume") from None
        except json.JSONDecodeError as exc:
            raise BatchStoreError(f"{out / MANIFEST}: not valid JSON: {exc}") from None
        if plan is not None and manifest.get("plan_hash") != plan_hash(r.run_id for r in plan.runs):
            raise BatchStoreError(
                f"{plan.path} no longer describes the batch in {out} (its matrix, knobs or per-run "
                f"budgets changed); resume with {out / SPEC_COPY}, or start a new batch in another "
                "output directory")
        return cls(out, manifest)

    def planned(self) -> list[PlannedRun]:
        return [PlannedRun(run_id=r["run_id"], position=r["position"], scenario=r["scenario"],
                           model=r["model"], seed=r["seed"], knobs=r["knobs"]) for r in self.manifest["runs"]]

    # -- the batch lock --------------------------------------------------------------------------
    def lock(self) -> None:
        if not self._lock.acquire(note=f"pid {os.getpid()} since {now_iso()}"):
            raise BatchBusy(f"the batch in {self.out} is being run by another process "
                            f"({self._lock.holder_note() or 'unknown'})")

    def unlock(self) -> None:
        self._lock.release()

    def close(self) -> None:
        self.unlock()
        self.db.close()

    # -- index -----------------------------------------------------------------------------------
    class _Tx:
        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type: Any, *rest: Any) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def transaction(self) -> "_Tx":
        return self._Tx(self.db)

    def row(self, run_id: str) -> sqlite3.Row:
        return self.db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()

    def rows(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM runs ORDER BY position").fetchall()

    def attempts(self, run_id: str | None = None) -> list[sqlite3.Row]:
        if run_id is None:
            return self.db.execute("SELECT * FROM attempts ORDER BY run_id, attempt").fetchall()
        return self.db.execute("SELECT * FROM attempts WHERE run_id = ? ORDER BY attempt",
                               (run_id,)).fetchall()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.db.execute("SELECT state, outcome, COUNT(*) AS n FROM runs GROUP BY state, outcome"):
            key = r["outcome"] if r["state"] == FINISHED else r["state"]
            out[key] = out.get(key, 0) + r["n"]
        return out

    def spent(self) -> tuple[float, int]:
        """Dollars spent over every attempt (interrupted ones cost money too), and how many attempts
        had a cost that is not known (a model without prices): those are never guessed."""
        row = self.db.execute("SELECT COALESCE(SUM(cost_usd), 0) AS usd, "
                              "SUM(CASE WHEN cost_known = 0 THEN 1 ELSE 0 END) AS unknown FROM attempts"
                              ).fetchone()
        return float(row["usd"] or 0.0), int(row["unknown"] or 0)

    def _set_run(self, run_id: str, **fields: Any) -> None:
        fields["updated"] = now_iso()
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE runs SET {cols} WHERE run_id = ?", (*fields.values(), run_id))

    def _set_attempt(self, run_id: str, attempt: int, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE attempts SET {cols} WHERE run_id = ? AND attempt = ?",
                        (*fields.values(), run_id, attempt))

    def start_attempt(self, run_id: str, worker: str, host: str, pid: int | None) -> int:
        with self.transaction():
            n = int(self.row(run_id)["attempts"]) + 1
            self.db.execute("INSERT OR REPLACE INTO attempts (run_id, attempt, state, started, worker, "
                            "host, pid, dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (run_id, n, RUNNING, now_iso(), worker, host, pid,
                             str(self.run_dir(run_id))))
            self._set_run(run_id, state=RUNNING, attempts=n, outcome=None, reason=None)
        return n

    def set_attempt_pid(self, run_id: str, pid: int | None, host: str | None = None) -> None:
        with self.transaction():
            n = int(self.row(run_id)["attempts"])
            self._set_attempt(run_id, n, pid=pid, **({"host": host} if host else {}))

    def end_attempt(self, run_id: str, state: str, outcome: str | None = None, reason: str = "",
                    steps: int | None = None, cost_usd: float | None = 0.0,
                    wall_s: float | None = None) -> None:
        """Record how the current attempt of a run ended (or that a run did not start at all)."""
        known = 0 if cost_usd is None else 1
        with self.transaction():
            row = self.row(run_id)
            n = int(row["attempts"])
            if row["state"] == RUNNING and n:
                self._set_attempt(run_id, n, state=state, outcome=outcome, reason=reason, steps=steps,
                                  cost_usd=cost_usd, cost_known=known, finished=now_iso())
            self._set_run(run_id, state=state, outcome=outcome, reason=reason, steps=steps,
                          cost_usd=cost_usd, cost_known=known, wall_s=wall_s)

    def mark(self, run_id: str, state: str, reason: str) -> None:
        """A run that will not start now (failed model, budget stop): no attempt is recorded."""
        with self.transaction():
            self._set_run(run_id, state=state, reason=reason, outcome=None)

    # -- resume ----------------------------------------------------------------------------------
    def reconcile(self, lock_wait: float = 120.0) -> dict[str, int]:
        """Bring the index in line with the run directories before (re)starting a batch.

        Finished runs stay; every other run directory is moved aside to attempts/ (never deleted)
        once no process holds its run lock, and its run is set to run again."""
        moved = kept = 0
        for run in self.planned():
            row = self.row(run.run_id)
            run_dir = self.run_dir(run.run_id)
            lock = FileLock(self.run_lock(run.run_id))
            if run_dir.exists() or row["state"] == RUNNING:
                if not lock.acquire(timeout=lock_wait):
                    raise BatchBusy(f"run {run.run_id} is still held by another process "
                                    f"({lock.holder_note() or 'unknown'}) after {lock_wait:g} s")
            try:
                seen = inspect_run_dir(run_dir)
                if seen.state == FINISHED:
                    if row["state"] != FINISHED or row["outcome"] != seen.outcome:
                        self._record_seen(run.run_id, row, seen)
                    kept += 1
                    continue
                if seen.state != "absent":
                    if row["state"] == RUNNING or row["attempts"] == 0:
                        self._record_seen(run.run_id, row, seen)
                    self._move_aside(run.run_id)
                    moved += 1
                    with self.transaction():
                        self._set_run(run.run_id, state=PENDING if row["state"] in (PENDING, SKIPPED)
                                      else seen.state, reason=seen.reason)
                elif row["state"] == RUNNING:
                    with self.transaction():
                        n = int(row["attempts"])
                        self._set_attempt(run.run_id, n, state=CRASHED, finished=now_iso(),
                                          reason="the batch stopped before the run wrote anything")
                        self._set_run(run.run_id, state=CRASHED,
                                      reason="the batch stopped before the run wrote anything")
            finally:
                lock.release()
        return {"kept": kept, "moved_aside": moved}

    def _record_seen(self, run_id: str, row: sqlite3.Row, seen: DirState) -> None:
        with self.transaction():
            n = int(row["attempts"])
            if n == 0:  # a directory the index never heard of (killed between the two writes)
                n = 1
                self.db.execute("INSERT OR REPLACE INTO attempts (run_id, attempt, state, dir) "
                                "VALUES (?, ?, ?, ?)", (run_id, n, seen.state, str(self.run_dir(run_id))))
                self._set_run(run_id, attempts=n)
            self._set_attempt(run_id, n, state=seen.state, outcome=seen.outcome, reason=seen.reason,
                              steps=seen.steps, cost_usd=seen.cost_usd,
                              cost_known=0 if seen.cost_usd is None else 1,
                              finished=now_iso())
            self._set_run(run_id, state=seen.state, outcome=seen.outcome, reason=seen.reason,
                          steps=seen.steps, cost_usd=seen.cost_usd,
                          cost_known=0 if seen.cost_usd is None else 1, wall_s=seen.wall_s)

    def _move_aside(self, run_id: str) -> Path:
        src = self.run_dir(run_id)
        n = max(int(self.row(run_id)["attempts"]), 1)
        base = self.attempts_dir / run_id
        base.mkdir(parents=True, exist_ok=True)
        while (base / str(n)).exists():
            n += 1
        dest = base / str(n)
        os.replace(src, dest)
        with self.transaction():
            self.db.execute("UPDATE attempts SET dir = ? WHERE run_id = ? AND dir = ?",
                            (str(dest), run_id, str(src)))
        return dest

    def move_aside_if_present(self, run_id: str) -> Path | None:
        return self._move_aside(run_id) if self.run_dir(run_id).exists() else None

    def todo(self) -> list[PlannedRun]:
        states = {r["run_id"]: r["state"] for r in self.rows()}
        return [r for r in self.planned() if states.get(r.run_id) != FINISHED]

    def requeue(self, states: tuple[str, ...] = (INTERRUPTED, CRASHED, FAILED, SKIPPED)) -> None:
        with self.transaction():
            marks = ",".join("?" * len(states))
            self.db.execute(f"UPDATE runs SET state = ?, updated = ? WHERE state IN ({marks})",
                            (PENDING, now_iso(), *states))

    def retry_errors(self) -> int:
        """Move finished runs whose outcome is `error` aside, so they run again."""
        n = 0
        for row in self.db.execute("SELECT run_id FROM runs WHERE state = ? AND outcome = 'error'",
                                   (FINISHED,)).fetchall():
            self.move_aside_if_present(row["run_id"])
            with self.transaction():
                self._set_run(row["run_id"], state=PENDING, outcome=None, reason=None)
            n += 1
        return n

    # -- invocations -----------------------------------------------------------------------------
    def begin_invocation(self, executor: str, argv: list[str]) -> None:
        cur = self.db.execute("INSERT INTO invocations (pid, started, executor, argv) VALUES (?, ?, ?, ?)",
                              (os.getpid(), now_iso(), executor, json.dumps(argv)))
        self.invocation = cur.lastrowid

    def end_invocation(self, result: str) -> None:
        if self.invocation is not None:
            self.db.execute("UPDATE invocations SET finished = ?, result = ? WHERE n = ?",
                            (now_iso(), result, self.invocation))

    def invocations(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute("SELECT * FROM invocations ORDER BY n")

