"""The warm pool of a batch worker: the sandbox of its next run, booted while the current run goes on.

The driver tells a worker which run it will get next (`PrepareOp`); the worker builds that run's
workspace, verdict runner and agent container in a thread, so when the run starts its sandbox is
already answering. Each prepared sandbox belongs to exactly one run id from the moment it is made
(its container carries that run's labels, its workspace that run's owner record), is handed out at
most once, and is closed when the driver takes the run elsewhere (`DiscardOp`), when the worker
leaves, and when the worker dies (the owner labels make it an orphan for `sweep`, and the batch
removes every container of its own at the end). Pool size: one per worker, so the batch's
concurrency.
"""
from __future__ import annotations

import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

from testbed.batch.messages import Job


def _env_key(spec: Any) -> dict[str, Any]:
    """What a sandbox is built from: a prepared one fits a run only if all of this is the same."""
    return {"run_id": spec.run_id, "batch": spec.batch, "task": spec.task.model_dump(mode="json"),
            "limits": spec.limits.model_dump(mode="json"),
            "command_timeout": spec.budget.command_timeout}


class _Prepared:
    def __init__(self, job: Job):
        self.job = job
        self.env: Any = None
        self.key: dict[str, Any] | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._build, name=f"pool-{job.run_id}", daemon=True)

    def _build(self) -> None:
        from testbed.env.docker import DockerEnvironment
        from testbed.scenario import load_scenario
        from testbed.spec import RunSpec
        job = self.job
        try:
            spec = RunSpec.for_scenario(load_scenario(job.scenario), job.model, job.seed, **job.knobs)
            spec = spec.model_copy(update={"run_id": job.run_id, "batch": job.batch})
            self.key = _env_key(spec)
            # Its own work directory: a run taken elsewhere may start there while this one closes.
            self.env = DockerEnvironment(spec, Path(job.runs_dir) / job.run_id,
                                         work_key=f"{job.run_id}.pool-{secrets.token_hex(3)}")
            self.env.provision()
            self.env.wait_ready()
        except Exception as exc:  # the run then starts cold and meets the same problem itself
            self.error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self.thread.join()
        if self.env is not None:
            try:
                self.env.close()
            except Exception as exc:
                print(f"pool: closing the prepared sandbox of {self.job.run_id} failed: {exc}",
                      file=sys.stderr, flush=True)
            self.env = None


class SandboxPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, _Prepared] = {}
        self.closing: list[threading.Thread] = []

    def prepare(self, job: Job) -> None:
        with self._lock:
            if job.run_id in self._items:
                return
            item = self._items[job.run_id] = _Prepared(job)
        item.thread.start()

    def take(self, spec: Any, run_dir: Path) -> Any | None:
        """The prepared environment of this run (once), or None: none was prepared, it failed, or
        the run's sandbox settings differ from what it was built for (then it is closed)."""
        with self._lock:
            item = self._items.pop(spec.run_id, None)
        if item is None:
            return None
        t0 = time.perf_counter()
        item.thread.join()
        waited = (time.perf_counter() - t0) * 1000
        if item.error is not None or item.key != _env_key(spec):
            why = item.error or "the run's sandbox settings differ from the prepared one's"
            print(f"pool: not using the prepared sandbox of {spec.run_id}: {why}", file=sys.stderr, flush=True)
            item.close()
            return None
        env, item.env = item.env, None
        env.adopt(spec, run_dir, waited_ms=waited)
        return env

    def discard(self, run_id: str) -> None:
        """The driver gave this run to another worker: close its sandbox, in the background."""
        with self._lock:
            item = self._items.pop(run_id, None)
        if item is not None:
            t = threading.Thread(target=item.close, name=f"discard-{run_id}", daemon=True)
            t.start()
            self.closing.append(t)

    def drain(self) -> None:
        """Close everything prepared and not taken (the worker is leaving)."""
        with self._lock:
            items, self._items = list(self._items.values()), {}
        for item in items:
            item.close()
        for t in self.closing:
            t.join()
        self.closing = []

    def __len__(self) -> int:
        return len(self._items)
