"""Runs as Ray tasks, for batches that outgrow one machine.

Each task runs one job through the same worker process as the local executor, on whatever node Ray
picks (so every node needs its own Docker engine, the sandbox image and this project installed at
the same version). The run directory is written on the node, in a temporary folder, and sent back
whole (a tar archive) when the run ends; the driver unpacks it into the batch directory. Progress
travels through a small actor (`_Channel`), which also carries the driver's request to interrupt.
Tasks are never retried by Ray (`max_retries=0`): a run that dies with its node is run again by
`--resume`, so nothing is duplicated.
"""
from __future__ import annotations

import io
import os
import selectors
import shutil
import signal
import socket
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from testbed.batch import messages

# A Ray node started here advertises and binds 127.0.0.1 only (Ray reads this when imported).
LOCAL_ONLY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


class RayUnavailable(Exception):
    pass


def _import_ray(local: bool) -> Any:
    if local and "ray" not in sys.modules:
        for k, v in LOCAL_ONLY_ENV.items():
            os.environ.setdefault(k, v)
    try:
        import ray
    except ImportError:
        raise RayUnavailable("the ray executor needs Ray: pip install 'testbed[ray]' (ray==2.60.0)") from None
    return ray


def connect(address: str | None, num_cpus: int) -> bool:
    """Join the cluster at `address`, reuse a Ray already initialised in this process, or start a
    local one on 127.0.0.1. Returns True when this call started Ray (and so must shut it down)."""
    ray = _import_ray(local=address is None)
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=max(num_cpus, 1), include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False)
    return True


def _remote_defs() -> tuple[Any, Any, Any]:
    ray = _import_ray(local=False)

    @ray.remote(num_cpus=0)
    class _Channel:
        def __init__(self) -> None:
            self.items: list[tuple[int, dict[str, Any]]] = []
            self.stop = False

        def post(self, slot: int, msg: dict[str, Any]) -> None:
            self.items.append((slot, msg))

        def drain(self) -> list[tuple[int, dict[str, Any]]]:
            items, self.items = self.items, []
            return items

        def request_stop(self) -> None:
            self.stop = True

        def stopping(self) -> bool:
            return self.stop

    @ray.remote(max_retries=0, retry_exceptions=False)
    def run_remote(slot: int, job: dict[str, Any], channel: Any) -> dict[str, Any]:
        return _run_on_node(slot, job, channel)

    @ray.remote(max_retries=0, num_cpus=0)
    def cleanup_remote(batch_id: str) -> tuple[str, int]:
        from testbed.sandbox.cleanup import cleanup
        return socket.gethostname(), len(cleanup(batch=batch_id))

    return _Channel, run_remote, cleanup_remote


def _run_on_node(slot: int, job: dict[str, Any], channel: Any) -> dict[str, Any]:
    import ray
    from testbed.batch.worker import spawn_worker

    tmp = Path(tempfile.mkdtemp(prefix=f"testbed-ray-{job['run_id'][:40]}-"))
    host = socket.gethostname()
    final: dict[str, Any] | None = None
    try:
        node_job = {**job, "runs_dir": str(tmp / "runs"), "lock": str(tmp / "run.lock")}
        with open(tmp / "worker.log", "ab") as log:
            proc = spawn_worker({"TESTBED_WORK_DIR": str(tmp / "work")}, stderr=log)
            proc.stdin.write((messages.encode(messages.RunOp(job=messages.Job.model_validate(node_job)))
                              + "\n").encode())
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            buf, stop_sent, next_check = b"", False, 0.0
            while final is None:
                if not stop_sent and time.monotonic() >= next_check:
                    next_check = time.monotonic() + 1.0
                    if ray.get(channel.stopping.remote()):
                        proc.send_signal(signal.SIGTERM)
                        stop_sent = True
                if not sel.select(0.5):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    final = messages.Lost(run_id=job["run_id"], reason=f"the worker on {host} exited with "
                                                                       f"status {proc.wait()}").model_dump()
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    msg = messages.decode(line) if line.strip() else None
                    if isinstance(msg, (messages.Finished, messages.Failed)):
                        final = msg.model_dump()
                    elif isinstance(msg, (messages.Started, messages.StepMsg)):
                        channel.post.remote(slot, msg.model_copy(update={"host": host}).model_dump())
            try:
                proc.stdin.write(b'{"op": "exit"}\n')
                proc.stdin.close()
            except OSError:
                pass
            proc.wait(timeout=120)
        run_dir = tmp / "runs" / job["run_id"]
        archive = None
        if run_dir.is_dir():
            data = io.BytesIO()
            with tarfile.open(fileobj=data, mode="w:gz") as tar:
                tar.add(run_dir, arcname=job["run_id"])
            archive = data.getvalue()
        log_tail = (tmp / "worker.log").read_bytes()[-4000:].decode("utf-8", "replace")
        return {"final": final, "archive": archive, "host": host, "worker_log": log_tail}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class RayExecutor:
    name = "ray"

    def __init__(self, slots: int, runs_dir: Path, make_room: Callable[[str], Any],
                 address: str | None = None):
        self.slots = slots
        self.runs_dir = Path(runs_dir)
        self.make_room = make_room
        self.started_ray = connect(address, slots)
        import ray
        self.ray = ray
        channel_cls, self._run_remote, self._cleanup_remote = _remote_defs()
        self.channel = channel_cls.remote()
        self.refs: dict[Any, tuple[int, dict[str, Any]]] = {}
        self.hosts: dict[int, str] = {}

    def host(self, slot: int) -> str:
        return self.hosts.get(slot, "ray")

    def submit(self, slot: int, job: Any) -> None:
        data = job.model_dump()
        ref = self._run_remote.remote(slot, data, self.channel)
        self.refs[ref] = (slot, data)

    def busy(self) -> int:
        return len(self.refs)

    def poll(self, timeout: float) -> list[tuple[int, Any]]:
        out = [(slot, messages.decode(raw)) for slot, raw in self.ray.get(self.channel.drain.remote())]
        out = [(slot, msg) for slot, msg in out if msg is not None]
        for slot, msg in out:
            if msg.host:
                self.hosts[slot] = msg.host
        if not self.refs:
            if not out:
                time.sleep(timeout)
            return out
        ready, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs),
                                 timeout=0 if out else timeout)
        for ref in ready:
            slot, job = self.refs.pop(ref)
            out.append((slot, self._collect(ref, job)))
        return out

    def _collect(self, ref: Any, job: dict[str, Any]) -> Any:
        run_id = job["run_id"]
        try:
            result = self.ray.get(ref)
        except Exception as exc:  # the task, its worker or its node died
            return messages.Lost(run_id=run_id, reason=f"the Ray task failed: {type(exc).__name__}: "
                                                       f"{str(exc).splitlines()[0][:300]}")
        final = dict(result["final"] or {"ev": "lost", "run_id": run_id, "reason": "no result"})
        if result.get("archive"):
            dest = self.runs_dir / run_id
            self.make_room(run_id)
            tmp = self.runs_dir / f".{run_id}.incoming"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with tarfile.open(fileobj=io.BytesIO(result["archive"]), mode="r:gz") as tar:
                tar.extractall(tmp, filter="data")
            os.replace(tmp / run_id, dest)
            shutil.rmtree(tmp, ignore_errors=True)
            final["run_dir"] = str(dest)
        if final.get("ev") == "lost" and result.get("worker_log"):
            final["reason"] += "; worker log tail: " + result["worker_log"][-500:]
        final["host"] = result.get("host")
        return messages.decode(final) or messages.Lost(run_id=run_id, reason=f"an unreadable result: {final!r}"[:300])

    def interrupt(self) -> None:
        self.ray.get(self.channel.request_stop.remote())

    def cleanup(self, batch_id: str) -> int:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        refs = [self._cleanup_remote.options(
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
                ).remote(batch_id) for node in self.ray.nodes() if node.get("Alive")]
        removed = 0
        for ref in refs:
            try:
                removed += self.ray.get(ref, timeout=120)[1]
            except Exception as exc:
                print(f"testbed batch: container cleanup on a Ray node failed: {exc}", file=sys.stderr)
        return removed

    def close(self, batch_id: str) -> int:
        for ref in list(self.refs):
            try:
                self.ray.get(ref, timeout=300)
            except Exception:
                pass
        self.refs.clear()
        removed = self.cleanup(batch_id)
        try:
            self.ray.kill(self.channel)
        except Exception:
            pass
        if self.started_ray:
            self.ray.shutdown()
        return removed
