"""The Docker sandbox: one locked-down container per run and one persistent shell inside it.

Commands travel to a single long-lived `bash` (a round trip costs well under a millisecond, where
a fresh `docker exec` costs ~70 ms). Each command is written to a file and sourced, so `cd` and
exported variables persist between steps; its output goes to a small tmpfs file whose head and tail
come back. A command that runs past its timeout is stopped by freezing the container, killing every
process but the shell from the host, and thawing it; a shell that still does not answer (or that the
command killed, e.g. with `exit`) is replaced and the observation says so.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import docker
from docker.types import Mount

from testbed.sandbox import ExecResult
from testbed.sandbox.output import HEAD_BYTES, TAIL_BYTES, cut_marker
from testbed.sandbox.workspace import WorkspacePaths

LABEL_RUN = "testbed.run"
LABEL_OWNER_PID = "testbed.owner_pid"
LABEL_OWNER_START = "testbed.owner_start"
LABEL_BATCH = "testbed.batch"
SHELL_IO = "/var/tb"  # tmpfs for the shell's command and output files
OUTPUT_CAP_MB = 64    # output beyond this is cut off by the tmpfs filling up


class SandboxError(Exception):
    pass


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as exc:  # docker raises several unrelated types here
        raise SandboxError(f"the Docker engine does not answer ({exc}); run `make setup` "
                           "(it installs and starts it)") from None


def process_start_ticks(pid: int) -> str:
    """The kernel start time of a process: with the pid it identifies a process uniquely."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return ""


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
                _stream, size = struct.unpack(">BxxxL", header)
                payload = self._recv_exact(size) if size else b""
                if payload is None:
                    break
                with self.cond:
                    self.buf.extend(payload)
                    self.cond.notify_all()
        except OSError:
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def wait_for(self, marker: bytes, deadline: float) -> int | None:
        """Index of `marker` in the buffer, waiting until `deadline`; None on timeout or EOF."""
        with self.cond:
            while True:
                idx = self.buf.find(marker)
                if idx >= 0:
                    return idx
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    return None
                self.cond.wait(min(remaining, 0.5))

    def take(self, upto: int) -> bytes:
        with self.cond:
            data = bytes(self.buf[:upto])
            del self.buf[:upto]
            return data


class PersistentShell:
    def __init__(self, api: Any, container_id: str, workdir: str = "/workspace"):
        self.api = api
        self.container_id = container_id
        self.workdir = workdir
        self.pid: int | None = None  # the shell's pid inside the container
        self._sock: socket.socket | None = None
        self._stream: _Stream | None = None

    def start(self) -> None:
        exec_id = self.api.exec_create(self.container_id, ["/bin/bash", "--noprofile", "--norc"],
                                       stdin=True, stdout=True, stderr=True, tty=False,
                                       user="agent", workdir=self.workdir)["Id"]
        sock = self.api.exec_start(exec_id, socket=True)
        self._sock = getattr(sock, "_sock", sock)
        self._stream = _Stream(self._sock)
        nonce = secrets.token_hex(6)
        self._send(f"builtin printf '__TB_{nonce}_PID %s\\n' $$\n")
        marker = f"__TB_{nonce}_PID ".encode()
        deadline = time.monotonic() + 30
        idx = self._stream.wait_for(marker, deadline)
        end = self._stream.wait_for(b"\n", deadline) if idx is not None else None
        if idx is None or end is None:
            raise SandboxError("the sandbox shell did not start")
        line = self._stream.take(self._stream.buf.find(b"\n", idx) + 1)
        self.pid = int(line.split(marker, 1)[1].strip())

    def _send(self, text: str) -> None:
        assert self._sock is not None
        self._sock.sendall(text.encode())

    @property
    def alive(self) -> bool:
        return self._stream is not None and not self._stream.closed

    def run(self, command: str, timeout: float, on_timeout: Any) -> ExecResult:
        """Run one command; `on_timeout()` is called once if it overruns and must stop it."""
        assert self._stream is not None
        nonce = secrets.token_hex(8)
        end = f"\n__TB_{nonce}_END\n".encode()
        self._send(_wrapper(nonce, command))
        start = time.monotonic()
        idx = self._stream.wait_for(end, start + timeout)
        timed_out = False
        if idx is None and not self._stream.closed:
            timed_out = True
            on_timeout()
            idx = self._stream.wait_for(end, time.monotonic() + 5)
        duration = (time.monotonic() - start) * 1000
        if idx is None:
            return ExecResult(output="", exit_code=None, duration_ms=duration, timed_out=timed_out,
                              shell_restarted=True)
        raw = self._stream.take(idx + len(end))
        begin = f"__TB_{nonce}_RC ".encode()
        header_at = raw.find(begin)
        header_end = raw.find(b"\n", header_at)
        exit_code = _int(raw[header_at + len(begin):header_end].decode(), None)
        body = raw[header_end + 1: len(raw) - len(end)]
        text, truncated, size = body.decode("utf-8", "replace"), False, len(body)
        if len(body) > HEAD_BYTES + TAIL_BYTES:
            text, size = self._head_tail()
            truncated = True
        return ExecResult(output=text, exit_code=None if timed_out else exit_code,
                          duration_ms=duration, truncated=truncated, timed_out=timed_out,
                          output_bytes=size)

    def _head_tail(self) -> tuple[str, int]:
        """Second round trip, only for long output: its size, head and tail."""
        assert self._stream is not None
        nonce = secrets.token_hex(8)
        end = f"\n__TB_{nonce}_END\n".encode()
        cut = f"\n__TB_{nonce}_CUT\n".encode()
        io = SHELL_IO
        self._send(f"builtin printf '__TB_{nonce}_SZ %s\\n' \"$(/usr/bin/stat -c %s {io}/out)\"\n"
                   f"/usr/bin/head -c {HEAD_BYTES} {io}/out; builtin printf '\\n__TB_{nonce}_CUT\\n'\n"
                   f"/usr/bin/tail -c {TAIL_BYTES} {io}/out; builtin printf '\\n__TB_{nonce}_END\\n'\n")
        idx = self._stream.wait_for(end, time.monotonic() + 30)
        if idx is None:
            return "[output could not be read back]", 0
        raw = self._stream.take(idx + len(end))
        header, _, body = raw.partition(b"\n")
        size = _int(header.decode().rsplit(" ", 1)[-1], 0)
        text, _ = _decode_body(body[: len(body) - len(end)], cut, size)
        return text, size

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            self._sock = None


def _wrapper(nonce: str, command: str) -> str:
    # The command arrives in a quoted here-document read by a builtin, so no process is spawned
    # for it; it is then sourced from a file so that syntax errors stay errors of that command.
    # `builtin` and absolute paths: the agent may have redefined functions or PATH.
    io = SHELL_IO
    if not command.endswith("\n"):
        command += "\n"
    return (
        f"IFS= builtin read -r -d '' __tb_cmd <<'__TB_{nonce}_EOF'\n{command}__TB_{nonce}_EOF\n"
        f"builtin printf '%s' \"$__tb_cmd\" > {io}/cmd.sh; builtin unset __tb_cmd\n"
        f". {io}/cmd.sh > {io}/out 2>&1 < /dev/null\n"
        f"builtin printf '\\n__TB_{nonce}_RC %s\\n' \"$?\"\n"
        f"[ -s {io}/out ] && /usr/bin/head -c {HEAD_BYTES + TAIL_BYTES + 1} {io}/out\n"
        f"builtin printf '\\n__TB_{nonce}_END\\n'\n"
    )


def _int(text: str, default: Any) -> Any:
    try:
        return int(text.strip())
    except ValueError:
        return default


def _decode_body(body: bytes, cut: bytes, size: int) -> tuple[str, bool]:
    if cut in body:
        head, tail = body.split(cut, 1)
        return (head.decode("utf-8", "replace") + cut_marker(size - len(head) - len(tail))
                + tail.decode("utf-8", "replace")), True
    return body.decode("utf-8", "replace"), False


class DockerSandbox:
    """A `Sandbox` backed by one Docker container."""

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
        self.shell: PersistentShell | None = None
        self._keep_host_pids: set[int] = set()
        self.ready_ms: float | None = None
        self.shell_restarts = 0
        self._pids_after_last = 0  # processes in the container when the last command returned

    # -- lifecycle ---------------------------------------------------------------------------
    def labels(self) -> dict[str, str]:
        labels = {LABEL_RUN: self.run_id, LABEL_OWNER_PID: str(os.getpid()),
                  LABEL_OWNER_START: process_start_ticks(os.getpid())}
        if self.batch:
            labels[LABEL_BATCH] = self.batch
        return labels

    def _mounts(self) -> list[Mount]:
        mounts = [Mount("/workspace", str(self.paths.workspace), type="bind"),
                  Mount("/opt/testbed/pristine", str(self.paths.pristine), type="bind", read_only=True),
                  Mount("/opt/testbed/harness", str(self.paths.harness), type="bind", read_only=True)]
        for p in self.protected:
            mounts.append(Mount(f"/workspace/{p}", str(self.paths.pristine / p), type="bind",
                                read_only=True))
        return mounts

    def start(self) -> None:
        t0 = time.perf_counter()
        # init and its `sleep` run as root (with no capabilities), so nothing the agent runs as
        # uid 1000 (`kill -9 -1`, `pkill sleep`) can stop the container; every command runs as agent.
        self.container = self.client.containers.run(
            self.image, command=["sleep", "infinity"], detach=True, init=True,
            network_mode="none", user="0:0", working_dir="/workspace", hostname="sandbox",
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            pids_limit=self.pids, mem_limit=f"{self.memory_mb}m", memswap_limit=f"{self.memory_mb}m",
            nano_cpus=int(self.cpus * 1e9), labels=self.labels(), mounts=self._mounts(),
            tmpfs={SHELL_IO: f"size={OUTPUT_CAP_MB}m,uid=1000,gid=1000,mode=700"},
            environment={"HOME": "/home/agent", "LANG": "C.UTF-8", **self.env},
        )
        self.container.reload()
        self._keep_host_pids = self._wait_for_main_process()
        self._start_shell()
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

    def _start_shell(self) -> None:
        self.shell = PersistentShell(self.client.api, self.container.id)
        self.shell.start()

    def close(self) -> None:
        if self.shell is not None:
            self.shell.close()
            self.shell = None
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                time.sleep(0.5)
                try:
                    self.container.remove(force=True)
                except docker.errors.DockerException:
                    pass
            self.container = None

    def __enter__(self) -> "DockerSandbox":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands ----------------------------------------------------------------------------
    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        assert self.shell is not None, "sandbox not started"
        if not self.shell.alive:
            self._restart_shell()
        elif self._multiplied_since_last_command():
            self._kill_all_but_keep(keep_shell=True)
        result = self.shell.run(command, timeout or 60, on_timeout=self._stop_runaway)
        if result.shell_restarted or not self.shell.alive:
            # The shell is gone (the command ran `exit`, was OOM-killed, or ignored the kill):
            # start a fresh one and fetch whatever output the command wrote before it died.
            self._restart_shell()
            out, truncated, size = self._previous_output()
            note = ("\n[the command did not finish; the shell was restarted: the working directory "
                    "and environment variables were reset]")
            result = ExecResult(output=out + note, exit_code=None, duration_ms=result.duration_ms,
                                truncated=truncated, timed_out=result.timed_out, output_bytes=size,
                                shell_restarted=True)
        if result.timed_out:
            result.output += f"\n[command timed out after {timeout or 60:g} s and was killed]"
        elif self._runaway_background():
            # Background processes (a fork bomb, say) are eating the process limit: stop them
            # before they starve every later command.
            self._kill_all_but_keep(keep_shell=True)
            result.output += ("\n[the sandbox's process limit was nearly reached: all background "
                              "processes were killed]")
        self._pids_after_last = self._pids_current()
        return result

    def _runaway_background(self) -> bool:
        """True when processes a command left running multiply. The short wait happens only when
        this command left more processes behind than there were before it (init, the main command
        and the shell are the baseline; a steady background server costs nothing)."""
        now = self._pids_current()
        if now <= max(len(self._keep_host_pids) + 1, self._pids_after_last):
            return False
        time.sleep(0.2)
        after = self._pids_current()
        return after >= 0.5 * self.pids or after > now + 8

    def _multiplied_since_last_command(self) -> bool:
        """Before a command: did background processes multiply while the model was thinking?"""
        now = self._pids_current()
        return now >= 0.5 * self.pids or now > self._pids_after_last + 8

    def _pids_current(self) -> int:
        try:
            return int((self._cgroup_procs_file().parent / "pids.current").read_text())
        except (OSError, ValueError, SandboxError):
            return 0

    def _previous_output(self) -> tuple[str, bool, int]:
        assert self.shell is not None
        res = self.shell.run(f"/bin/cat {SHELL_IO}/out.prev", timeout=10, on_timeout=lambda: None)
        return res.output, res.truncated, res.output_bytes

    def _restart_shell(self) -> None:
        old = self.shell
        if old is not None:
            old.close()
        self._kill_all_but_keep(keep_shell=False)
        self.shell_restarts += 1
        self.container.exec_run(["/bin/sh", "-c", f"/bin/mv -f {SHELL_IO}/out {SHELL_IO}/out.prev"],
                                user="agent")
        self._start_shell()

    def _stop_runaway(self) -> None:
        self._kill_all_but_keep(keep_shell=True)

    def _kill_all_but_keep(self, keep_shell: bool) -> None:
        """Freeze the container, SIGKILL every process except init, its main command and
        (optionally) the shell, then thaw it: works even when a fork bomb has used up the pids."""
        keep = set(self._keep_host_pids)
        if keep_shell and self.shell is not None and self.shell.pid is not None:
            keep |= {hp for hp, cp in self._host_to_container_pids().items() if cp == self.shell.pid}
        try:
            self.container.pause()
        except docker.errors.APIError:
            pass
        try:
            for _ in range(3):
                victims = [p for p in self._host_pids() if p not in keep]
                if not victims:
                    break
                for pid in victims:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        finally:
            try:
                self.container.unpause()
            except docker.errors.APIError:
                pass

    def _cgroup_procs_file(self) -> Path:
        init_pid = self.container.attrs["State"]["Pid"]
        for line in Path(f"/proc/{init_pid}/cgroup").read_text().splitlines():
            hier, controllers, path = line.split(":", 2)
            if hier == "0" or "pids" in controllers.split(","):
                base = Path("/sys/fs/cgroup") if hier == "0" else Path("/sys/fs/cgroup/pids")
                return base / path.lstrip("/") / "cgroup.procs"
        raise SandboxError("cannot find the container's cgroup")

    def _host_pids(self) -> list[int]:
        try:
            return [int(x) for x in self._cgroup_procs_file().read_text().split()]
        except OSError:
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

    # -- the harness's own test run ----------------------------------------------------------
    def check(self, test_command: str, timeout: float, env: dict[str, str] | None = None) -> ExecResult:
        t0 = time.perf_counter()
        cmd = ["/opt/testbed/harness/check", str(int(timeout)), str(HEAD_BYTES), str(TAIL_BYTES), "--",
               test_command]
        exit_code, out = self.container.exec_run(cmd, user="agent", workdir="/", environment=env or {},
                                                 demux=False)
        duration = (time.perf_counter() - t0) * 1000
        out = out or b""
        header, _, body = out.partition(b"\n")
        if not header.startswith(b"__TB_CHECK "):
            return ExecResult(output=out.decode("utf-8", "replace"), exit_code=exit_code,
                              duration_ms=duration)
        _, rc_s, size_s = header.decode().split()
        text, truncated = _decode_body(body, b"\n__TB_CUT\n", int(size_s))
        rc = int(rc_s)
        return ExecResult(output=text, exit_code=rc, duration_ms=duration, truncated=truncated,
                          timed_out=rc == 137, output_bytes=int(size_s))
