"""Executors run jobs in slots and report what the workers say. One protocol, two executors:
`LocalExecutor` (worker processes on this machine) and `RayExecutor` (testbed/batch/ray_executor.py,
Ray tasks on a cluster). Messages are testbed/batch/messages.py's, plus `Lost` when a worker or
task died without finishing its run.
"""
from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from testbed.batch import messages
from testbed.batch.messages import Job, Lost
from testbed.batch.worker import spawn_worker

Message = Any  # a messages.WorkerMessage


class Executor(Protocol):
    name: str
    slots: int

    def submit(self, slot: int, job: Job) -> None: ...

    def poll(self, timeout: float) -> list[tuple[int, Message]]: ...

    def interrupt(self) -> None:
        """End every running run now (each ends `interrupted`, its sandbox removed)."""

    def prepare(self, slot: int, job: Job) -> None:
        """Boot the sandbox of the slot's next run now (only where `supports_pool`)."""

    def discard(self, slot: int, run_id: str) -> None:
        """The prepared run of that slot goes elsewhere: remove its sandbox."""

    def host(self, slot: int) -> str: ...

    def cleanup(self, batch_id: str) -> int:
        """Remove this batch's orphaned containers wherever this executor runs jobs."""

    def close(self, batch_id: str) -> int:
        """Stop the workers, remove the batch's leftover containers (returns how many), let go."""


@dataclass
class _Slot:
    index: int
    proc: subprocess.Popen | None = None
    buf: bytes = b""
    job: Job | None = None
    log: Any = None


class LocalExecutor:
    """Worker processes on this machine, one per slot, each running one job at a time."""

    name = "local"
    supports_pool = True

    def __init__(self, slots: int, workers_dir: Path, work_dir: Path | None = None,
                 env: dict[str, str] | None = None):
        self.slots = slots
        self.workers_dir = Path(workers_dir)
        self.work_dir = work_dir  # the workspaces of this batch's runs (TESTBED_WORK_DIR)
        self.env = {**(env or {}), **({"TESTBED_WORK_DIR": str(work_dir)} if work_dir else {})}
        self._slots = [_Slot(i) for i in range(slots)]
        self._sel = selectors.DefaultSelector()

    def host(self, slot: int) -> str:
        return socket.gethostname()

    def _ensure(self, s: _Slot) -> None:
        if s.proc is not None and s.proc.poll() is None:
            return
        self.workers_dir.mkdir(parents=True, exist_ok=True)
        if s.log is None:
            s.log = open(self.workers_dir / f"worker-{s.index}.log", "ab")
        s.proc = spawn_worker(self.env, stderr=s.log)
        s.buf = b""
        os.set_blocking(s.proc.stdout.fileno(), False)
        self._sel.register(s.proc.stdout, selectors.EVENT_READ, s)

    def submit(self, slot: int, job: Job) -> None:
        s = self._slots[slot]
        self._ensure(s)
        s.job = job
        try:
            s.proc.stdin.write((messages.encode(messages.RunOp(job=job)) + "\n").encode())
        except (BrokenPipeError, OSError):
            pass  # the worker died; its EOF reports the job as lost

    def _send(self, slot: int, op: Any) -> None:
        s = self._slots[slot]
        if s.proc is None or s.proc.poll() is not None:
            return  # no worker: nothing was prepared there
        try:
            s.proc.stdin.write((messages.encode(op) + "\n").encode())
        except (BrokenPipeError, OSError):
            pass

    def prepare(self, slot: int, job: Job) -> None:
        self._send(slot, messages.PrepareOp(job=job))

    def discard(self, slot: int, run_id: str) -> None:
        self._send(slot, messages.DiscardOp(run_id=run_id))

    def worker_pid(self, slot: int) -> int | None:
        p = self._slots[slot].proc
        return p.pid if p is not None else None

    def poll(self, timeout: float) -> list[tuple[int, Message]]:
        out: list[tuple[int, Message]] = []
        if not self._sel.get_map():
            time.sleep(timeout)
            return out
        for key, _ in self._sel.select(timeout):
            s: _Slot = key.data
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if chunk:
                s.buf += chunk
                *lines, s.buf = s.buf.split(b"\n")
                for line in lines:
                    msg = self._parse(s, line)
                    if msg is not None:
                        out.append((s.index, msg))
                        if isinstance(msg, messages.ENDS):
                            s.job = None
                continue
            self._sel.unregister(key.fileobj)
            code = s.proc.wait()
            if s.job is not None:
                out.append((s.index, Lost(run_id=s.job.run_id, reason=f"the worker process exited with status "
                                                                       f"{code}{self._log_tail(s)}")))
                s.job = None
            s.proc = None
        return out

    def _log_tail(self, s: _Slot) -> str:
        try:
            s.log.flush()
            tail = (self.workers_dir / f"worker-{s.index}.log").read_bytes()[-300:]
        except (OSError, AttributeError):
            return ""
        tail = tail.decode("utf-8", "replace").strip()
        return f" (worker log: …{tail})" if tail else ""

    def _parse(self, s: _Slot, line: bytes) -> Message | None:
        if not line.strip():
            return None
        msg = messages.decode(line)
        if msg is None and s.log is not None:
            s.log.write(b"unparsed worker output: " + line[:500] + b"\n")
        return msg

    def busy(self) -> int:
        return sum(s.job is not None for s in self._slots)

    def interrupt(self) -> None:
        for s in self._slots:
            if s.proc is not None and s.proc.poll() is None:
                try:
                    s.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def cleanup(self, batch_id: str) -> int:
        from testbed.sandbox.cleanup import cleanup
        return len(cleanup(batch=batch_id))

    def close(self, batch_id: str) -> int:
        self._stop_workers()
        return self.cleanup(batch_id)

    def _stop_workers(self) -> None:
        for s in self._slots:
            if s.proc is None:
                continue
            try:
                s.proc.stdin.write(b'{"op": "exit"}\n')
                s.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                s.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                s.proc.terminate()
                try:
                    s.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    s.proc.kill()
                    s.proc.wait()
            try:
                self._sel.unregister(s.proc.stdout)
            except (KeyError, ValueError):
                pass
            s.proc.stdout.close()
            s.proc = None
        for s in self._slots:
            if s.log is not None:
                s.log.close()
                s.log = None
        self._sel.close()
