"""The Docker sandbox: one locked-down container per run, and the agent's persistent shell in it.

The container's root filesystem is read-only; the places the agent may write are its workspace
(a bind mount with its own quota) and small tmpfs mounts (`/tmp`, `/var/tmp`, `/home/agent`),
all of them also bounded by the container's memory limit. Commands travel to one long-lived bash
through the relay (`relay.py`, root without capabilities): the relay alone holds the channel to the
harness, so no process of the agent's can keep it open or write into it. A command that runs past
its timeout is stopped by freezing the container, killing every process but init, the relay and
(if it answers) the shell from the host, and thawing it; a shell that is gone is replaced and the
observation says so.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import struct
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import docker
from docker.types import Mount

from testbed.sandbox import ExecResult
from testbed.sandbox.output import HEAD_BYTES, TAIL_BYTES, cut_marker
from testbed.sandbox.owner import (LABEL_BATCH, LABEL_OWNER_PID, LABEL_OWNER_START, LABEL_ROLE, LABEL_RUN,
                                    process_start_ticks)
from testbed.sandbox.workspace import WorkspacePaths
CTL = "/var/tb/ctl"
CTL_MB = 64           # the relay's files: command output beyond this is cut off
HARNESS = "/opt/testbed/harness"
# Where the agent can write outside the workspace (each a tmpfs); scanned for runner files.
WRITABLE = {"/tmp": 256, "/var/tmp": 64, "/home/agent": 64}
OUTSIDE_ROOTS = ["/tmp", "/var/tmp", "/home/agent", "/dev/shm"]


class SandboxError(Exception):
    pass


__all__ = ["DockerSandbox", "SandboxError", "docker_client", "process_start_ticks", "LABEL_RUN",
           "LABEL_OWNER_PID", "LABEL_OWNER_START", "LABEL_BATCH", "LABEL_ROLE"]


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as exc:  # docker raises several unrelated types here
        raise SandboxError(f"the Docker engine does not answer ({exc}); run `make setup` "
                           "(it installs and starts it)") from None


def owner_labels(run_id: str, role: str, batch: str | None = None) -> dict[str, str]:
    labels = {LABEL_RUN: run_id, LABEL_OWNER_PID: str(os.getpid()),
              LABEL_OWNER_START: process_start_ticks(os.getpid()), LABEL_ROLE: role}
    if batch:
        labels[LABEL_BATCH] = batch
    return labels


def locked_down(**limits: Any) -> dict[str, Any]:
    """The container options every sandbox container shares (the agent's and the verdict's)."""
    mem = f"{limits['memory_mb']}m"
    return dict(detach=True, init=True, network_mode="none", user="0:0", hostname="sandbox",
                cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True,
                pids_limit=limits["pids"], mem_limit=mem, memswap_limit=mem,
                nano_cpus=int(limits["cpus"] * 1e9))


class _Stream:
    """Reads the multiplexed stdout/stderr frames of an attached exec into a buffer."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _recv_exact(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _pump(self) -> None:
        try:
            while True:
                header = self._recv_exact(8)
                if header is None:
                    break
                stream, size = struct.unpack(">BxxxL", header)
                payload = self._recv_exact(size) if size else b""
                if payload is None:
                    break
                if stream == 1:  # the relay's stdout; its stderr (a traceback) is not protocol
                    with self.cond:
                        self.buf.extend(payload)
                        self.cond.notify_all()
        except OSError:
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def read_frame(self, deadline: float) -> tuple[dict, bytes] | None:
        """One reply: a JSON header line, then `len` bytes of body; None on timeout or EOF."""
        with self.cond:
            while True:
                nl = self.buf.find(b"\n")
                if nl >= 0:
                    header = json.loads(bytes(self.buf[:nl]))
                    need = nl + 1 + int(header.get("len", 0))
                    if len(self.buf) >= need:
                        body = bytes(self.buf[nl + 1:need])
                        del self.buf[:need]
                        return header, body
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    return None
                self.cond.wait(min(remaining, 0.5))


class RelayShell:
    """The agent's persistent bash, driven through the relay."""

    def __init__(self, api: Any, container_id: str, workdir: str = "/workspace"):
        self.api = api
        self.container_id = container_id
        self.workdir = workdir
        self.relay_pid: int | None = None  # container pids
        self.pid: int | None = None
        self._sock: socket.socket | None = None
        self._stream: _Stream | None = None

    @property
    def alive(self) -> bool:
        return self._stream is not None and not self._stream.closed

    def start_relay(self) -> None:
        exec_id = self.api.exec_create(self.container_id, ["/usr/bin/python3", "-I", "-S", f"{HARNESS}/relay.py"],
                                       stdin=True, stdout=True, stderr=True, tty=False, user="0:0",
                                       workdir="/")["Id"]
        sock = self.api.exec_start(exec_id, socket=True)
        self._sock = getattr(sock, "_sock", sock)
        self._stream = _Stream(self._sock)
        frame = self._stream.read_frame(time.monotonic() + 30)
        if frame is None or frame[0].get("op") != "ready":
            raise SandboxError("the sandbox relay did not start")
        self.relay_pid = int(frame[0]["pid"])

    def start_bash(self) -> None:
        """A fresh agent bash reading the relay's command FIFO (its own exec, not attached)."""
        exec_id = self.api.exec_create(
            self.container_id,
            ["/bin/bash", "-c", f"exec /bin/bash --noprofile --norc < {CTL}/cmd.fifo > /dev/null 2>&1"],
            stdin=False, stdout=False, stderr=False, tty=False, user="agent", workdir=self.workdir)["Id"]
        self.api.exec_start(exec_id, detach=True)
        nonce = secrets.token_hex(8)
        self.send({"op": "hello", "nonce": nonce})
        frame = self.read(time.monotonic() + 30)
        if frame is None or frame[0].get("pid") is None:
            raise SandboxError("the sandbox shell did not start")
        self.pid = int(frame[0]["pid"])

    def send(self, msg: dict) -> None:
        assert self._sock is not None
        self._sock.sendall(json.dumps(msg).encode() + b"\n")

    def read(self, deadline: float) -> tuple[dict, bytes] | None:
        assert self._stream is not None
        return self._stream.read_frame(deadline)

    def request(self, msg: dict, timeout: float = 30) -> tuple[dict, bytes] | None:
        self.send(msg)
        return self.read(time.monotonic() + timeout)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            self._sock = None


def _decode(header: dict, body: bytes) -> tuple[str, bool, int]:
    size = int(header.get("size", len(body)))
    if header.get("cut"):
        head = int(header.get("head", HEAD_BYTES))
        return (body[:head].decode("utf-8", "replace") + cut_marker(size - len(body))
                + body[head:].decode("utf-8", "replace")), True, size
    return body.decode("utf-8", "replace"), False, size


class DockerSandbox:
    """One Docker container for the agent: its shell, its limits, and what it left outside."""

    def __init__(self, image: str, paths: WorkspacePaths, run_id: str, protected: list[str],
                 memory_mb: int = 1024, cpus: float = 1.0, pids: int = 256,
                 env: dict[str, str] | None = None, batch: str | None = None,
                 client: docker.DockerClient | None = None):
        self.image = image
        self.paths = paths
        self.workspace = paths.workspace
        self.run_id = run_id
        self.protected = protected
        self.memory_mb, self.cpus, self.pids = memory_mb, cpus, pids
        self.env = env or {}
        self.batch = batch
        self.client = client or docker_client()
        self.container: Any = None
        self.shell: RelayShell | None = None
        self._keep_host_pids: set[int] = set()
        self.ready_ms: float | None = None
        self.shell_restarts = 0
        self._pids_after_last = 0
        self._cgroup: Path | None = None
        self._full: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def labels(self) -> dict[str, str]:
        return owner_labels(self.run_id, "agent", self.batch)

    def _mounts(self) -> list[Mount]:
        mounts = [Mount("/workspace", str(self.paths.workspace), type="bind"),
                  Mount("/opt/testbed/pristine", str(self.paths.pristine), type="bind", read_only=True),
                  Mount(HARNESS, str(self.paths.harness), type="bind", read_only=True)]
        for p in self.protected:
            mounts.append(Mount(f"/workspace/{p}", str(self.paths.pristine / p), type="bind",
                                read_only=True))
        return mounts

    def start(self) -> None:
        t0 = time.perf_counter()
        tmpfs = {path: f"size={mb}m,uid=1000,gid=1000,mode=1777" if path == "/tmp" else
                 f"size={mb}m,uid=1000,gid=1000,mode=755" for path, mb in WRITABLE.items()}
        tmpfs[CTL] = f"size={CTL_MB}m,uid=0,gid=0,mode=755"
        # init and its `sleep` run as root (with no capabilities), so nothing the agent runs as
        # uid 1000 (`kill -9 -1`, `pkill sleep`) can stop the container; every command runs as agent.
        self.container = self.client.containers.run(
            self.image, command=["sleep", "infinity"], working_dir="/workspace", labels=self.labels(),
            mounts=self._mounts(), tmpfs=tmpfs,
            environment={"HOME": "/home/agent", "LANG": "C.UTF-8", **self.env},
            **locked_down(memory_mb=self.memory_mb, pids=self.pids, cpus=self.cpus))
        self.container.reload()
        self._keep_host_pids = self._wait_for_main_process()
        self.shell = RelayShell(self.client.api, self.container.id)
        self.shell.start_relay()
        self._keep_host_pids |= self._host_pids_of({self.shell.relay_pid})
        self.shell.start_bash()
        self.ready_ms = (time.perf_counter() - t0) * 1000

    def _wait_for_main_process(self, timeout: float = 10.0) -> set[int]:
        """The host pids of init and the main command. Under load docker's init may not have
        started `sleep infinity` yet when the container reports running; recording the keep set
        too early would let a later kill pass stop the container."""
        deadline = time.monotonic() + timeout
        while True:
            pids = set(self._host_pids())
            if len(pids) >= 2 or time.monotonic() > deadline:
                if len(pids) < 2:
                    raise SandboxError("the sandbox's main process did not start")
                return pids
            time.sleep(0.01)

    def close(self) -> None:
        if self.shell is not None:
            self.shell.close()
            self.shell = None
        if self.container is not None:
            remove_container(self.container)
            self.container = None

    def __enter__(self) -> "DockerSandbox":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands ----------------------------------------------------------------------------
    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        assert self.shell is not None, "sandbox not started"
        timeout = timeout or 60
        notes: list[str] = []
        if not self._shell_ok():
            notes.append(self._restart_shell("the shell had died"))
        elif self._multiplied_since_last_command():
            self._kill_all_but_keep(keep_shell=True)
        result = self._run(command, timeout)
        if result.timed_out:
            notes.append(f"command timed out after {timeout:g} s and was killed")
        if result.shell_restarted:
            notes.append(self._restart_shell("the command did not finish"))
        elif not result.timed_out and self._runaway_background():
            # Background processes (a fork bomb, say) are eating the process limit: stop them
            # before they starve every later command.
            self._kill_all_but_keep(keep_shell=True)
            notes.append("the sandbox's process limit was nearly reached: all background "
                         "processes were killed")
        if self._full or "No space left on device" in result.output:
            notes.append(self.quota_note(self._full))
        result.notes = [n for n in notes if n]
        for n in result.notes:
            result.output += f"\n[{n}]"
        self._pids_after_last = self._pids_current()
        return result

    def _run(self, command: str, timeout: float) -> ExecResult:
        assert self.shell is not None
        nonce = secrets.token_hex(8)
        start = time.monotonic()
        self.shell.send({"op": "run", "nonce": nonce, "cmd": command, "head": HEAD_BYTES, "tail": TAIL_BYTES,
                         "watch": ["/workspace", *WRITABLE]})
        frame, died = self._wait_reply(start + timeout)
        timed_out = False
        if died:  # the command ended the shell (`exit`, the OOM killer): no exit status to report
            self.shell.send({"op": "abort"})
            frame = self.shell.read(time.monotonic() + 5)
        elif frame is None and self.shell.alive:
            timed_out = True
            self._kill_all_but_keep(keep_shell=True)
            frame = self.shell.read(time.monotonic() + 3)
            if frame is None:  # the shell itself is stuck (a builtin loop) or gone
                self._kill_all_but_keep(keep_shell=False)
                frame = self.shell.read(time.monotonic() + 3)
                if frame is None and self.shell.alive:
                    self.shell.send({"op": "abort"})
                    frame = self.shell.read(time.monotonic() + 5)
        duration = (time.monotonic() - start) * 1000
        if frame is None:
            return ExecResult(output="", exit_code=None, duration_ms=duration, timed_out=timed_out,
                              shell_restarted=True)
        header, body = frame
        text, truncated, size = _decode(header, body)
        restarted = bool(header.get("aborted")) or not self._bash_alive()
        rc = header.get("rc")
        self._full = list(header.get("full") or [])
        return ExecResult(output=text, exit_code=None if (timed_out or restarted) else rc,
                          duration_ms=duration, truncated=truncated, timed_out=timed_out,
                          output_bytes=size, shell_restarted=restarted)

    def _wait_reply(self, deadline: float) -> tuple[tuple[dict, bytes] | None, bool]:
        """The relay's reply, or (None, True) as soon as the agent's bash is seen to be gone."""
        assert self.shell is not None
        step = 0.05
        while True:
            now = time.monotonic()
            frame = self.shell.read(min(deadline, now + step))
            if frame is not None or now >= deadline or not self.shell.alive:
                return frame, False
            if not self._bash_alive():
                frame = self.shell.read(time.monotonic() + 0.05)  # it may have answered as it went
                return frame, frame is None
            step = min(step * 2, 0.5)

    def _shell_ok(self) -> bool:
        return self.shell is not None and self.shell.alive and self._bash_alive()

    def _bash_alive(self) -> bool:
        assert self.shell is not None
        return self.shell.pid in self._host_to_container_pids().values()

    def _restart_shell(self, why: str) -> str:
        """A new bash (and a new relay if that is gone too); the note says what the agent lost."""
        assert self.shell is not None
        self._kill_all_but_keep(keep_shell=False)
        self.shell_restarts += 1
        if not self.shell.alive:
            self.shell.close()
            self._keep_host_pids = {p for p in self._keep_host_pids if p in self._host_pids()}
            self.shell = RelayShell(self.client.api, self.container.id)
            self.shell.start_relay()
            self._keep_host_pids |= self._host_pids_of({self.shell.relay_pid})
        self.shell.start_bash()
        return (f"{why}; the shell was restarted: the working directory and environment "
                "variables were reset")

    def quota_note(self, full: list[str] | None = None) -> str:
        sizes = {"/workspace": self.paths.quota_mb, **WRITABLE}
        where = ", ".join(f"{p} ({sizes[p]} MiB)" if sizes.get(p) else p for p in (full or [])) or "a filesystem"
        return (f"disk quota reached: {where} is full; the sandbox's quotas are /workspace "
                f"{self.paths.quota_mb or 'unlimited'} MiB, /tmp {WRITABLE['/tmp']} MiB, "
                f"/var/tmp {WRITABLE['/var/tmp']} MiB, /home/agent {WRITABLE['/home/agent']} MiB")

    def _runaway_background(self) -> bool:
        """True when processes a command left running multiply. The short wait happens only when
        this command left more processes behind than there were before it (init, the relay, the
        shell are the baseline; a steady background server costs nothing)."""
        now = self._pids_current()
        if now <= max(len(self._keep_host_pids) + 1, self._pids_after_last):
            return False
        time.sleep(0.2)
        after = self._pids_current()
        return after >= 0.5 * self.pids or after > now + 8

    def _multiplied_since_last_command(self) -> bool:
        now = self._pids_current()
        return now >= 0.5 * self.pids or now > self._pids_after_last + 8

    # -- what the agent left running or outside ------------------------------------------------
    def background_processes(self) -> list[str]:
        """Command lines of the agent's processes other than its shell (the kernel's record)."""
        keep = set(self._keep_host_pids)
        shell = self.shell.pid if self.shell else None
        out = []
        for hp, cp in self._host_to_container_pids().items():
            if hp in keep or cp == shell:
                continue
            try:
                raw = Path(f"/proc/{hp}/cmdline").read_bytes()[:400]
            except OSError:
                continue
            out.append(raw.replace(b"\0", b" ").decode("utf-8", "replace").strip())
        return sorted(c for c in out if c)

    def outside_files(self) -> list[dict]:
        """Files outside the workspace that a test runner would load, as the relay sees them."""
        if self.shell is None or not self.shell.alive:
            return []
        frame = self.shell.request({"op": "scan", "roots": OUTSIDE_ROOTS, "limit": 5000}, timeout=10)
        if frame is None:
            return []
        try:
            return json.loads(frame[1])
        except ValueError:
            return []

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Nothing in the container runs while the harness reads the workspace."""
        try:
            self.container.pause()
            paused = True
        except docker.errors.APIError:
            paused = False
        try:
            yield
        finally:
            if paused:
                try:
                    self.container.unpause()
                except docker.errors.APIError:
                    pass

    # -- processes, from the host --------------------------------------------------------------
    def _kill_all_but_keep(self, keep_shell: bool) -> None:
        """Freeze the container, SIGKILL every process except init, its main command, the relay
        and (optionally) the shell, then thaw it: works even when a fork bomb used up the pids."""
        keep = set(self._keep_host_pids)
        if keep_shell and self.shell is not None and self.shell.pid is not None:
            keep |= self._host_pids_of({self.shell.pid})
        kill_cgroup(self.container, self._host_pids, keep)

    def _host_pids_of(self, container_pids: set[int | None]) -> set[int]:
        return {hp for hp, cp in self._host_to_container_pids().items() if cp in container_pids}

    def _cgroup_dir(self) -> Path:
        if self._cgroup is None:
            self._cgroup = cgroup_dir(self.container)
        return self._cgroup

    def _pids_current(self) -> int:
        try:
            return int((self._cgroup_dir() / "pids.current").read_text())
        except (OSError, ValueError, SandboxError):
            return 0

    def _host_pids(self) -> list[int]:
        try:
            return [int(x) for x in (self._cgroup_dir() / "cgroup.procs").read_text().split()]
        except (OSError, SandboxError):
            return []

    def _host_to_container_pids(self) -> dict[int, int]:
        mapping = {}
        for hp in self._host_pids():
            try:
                for line in Path(f"/proc/{hp}/status").read_text().splitlines():
                    if line.startswith("NSpid:"):
                        mapping[hp] = int(line.split()[-1])
            except OSError:
                continue
        return mapping


def cgroup_dir(container: Any) -> Path:
    init_pid = container.attrs["State"]["Pid"]
    for line in Path(f"/proc/{init_pid}/cgroup").read_text().splitlines():
        hier, controllers, path = line.split(":", 2)
        if hier == "0" or "pids" in controllers.split(","):
            base = Path("/sys/fs/cgroup") if hier == "0" else Path("/sys/fs/cgroup/pids")
            return base / path.lstrip("/")
    raise SandboxError("cannot find the container's cgroup")


def kill_cgroup(container: Any, host_pids: Any, keep: set[int]) -> None:
    try:
        container.pause()
    except docker.errors.APIError:
        pass
    try:
        for _ in range(3):
            victims = [p for p in host_pids() if p not in keep]
            if not victims:
                break
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    finally:
        try:
            container.unpause()
        except docker.errors.APIError:
            pass


def remove_container(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError:
        time.sleep(0.5)
        try:
            container.remove(force=True)
        except docker.errors.DockerException:
            pass
