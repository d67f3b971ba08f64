"""The harness's end of the sandbox shell, run inside the container as root without capabilities.

Only this process holds the channel to the harness (its stdin and stdout, a `docker exec` stream).
The agent's bash is a separate process tree (started by its own detached exec, as the agent user)
that reads its commands from a FIFO and reports through another; none of the agent's processes
inherits the channel, and a uid-1000 process cannot open a root process's descriptors through
/proc. So nothing the agent leaves running can hold the channel open or write into it: every reply
on it is framed here (a JSON header with the body's length, then the body).

The control files live on a root-owned tmpfs (`/var/tb/ctl`, mode 0755): the agent can write the
output file and the done FIFO, but cannot remove, replace, chmod or swap them, so damaging the
scratch area can only cost the agent its own shell, which the harness then restarts.

Requests (one JSON line each): run {cmd, nonce, head, tail}, hello {nonce}, read {head, tail},
scan {roots}, abort. Python standard library only: this file is copied into the sandbox.
"""
import json
import os
import select
import stat
import sys

CTL = "/var/tb/ctl"
CMD_FIFO, DONE_FIFO, OUT, SCRIPT = (f"{CTL}/cmd.fifo", f"{CTL}/done.fifo", f"{CTL}/out",
                                    f"{CTL}/cmd.sh")
# Files that a Python test run would load if they sat on its path or in a parent directory.
RUNNER_NAMES = {"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini",
                "setup.cfg", "pyproject.toml", "sitecustomize.py", "usercustomize.py", "pytest.py",
                "py.py", "_pytest", "pytest", "pluggy"}


def setup():
    os.umask(0)
    for path, mode in ((CMD_FIFO, 0o644), (DONE_FIFO, 0o622)):
        if not os.path.exists(path):
            os.mkfifo(path, mode)
        os.chmod(path, mode)
    for path, mode in ((OUT, 0o666), (SCRIPT, 0o644)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        os.fchmod(fd, mode)
        os.close(fd)
    # Held read-write so that neither end ever sees EOF when the agent's bash comes and goes.
    return (os.open(CMD_FIFO, os.O_RDWR | os.O_NONBLOCK), os.open(DONE_FIFO, os.O_RDWR | os.O_NONBLOCK))


def reply(header, body=b""):
    header = dict(header, len=len(body))
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode() + b"\n" + body)
    out.flush()


def read_output(head, tail):
    try:
        fd = os.open(OUT, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return {"size": 0, "error": str(exc)}, b""
    try:
        size = os.fstat(fd).st_size
        if size <= head + tail:
            return {"size": size, "cut": False}, os.pread(fd, size, 0)
        return {"size": size, "cut": True, "head": head}, os.pread(fd, head, 0) + os.pread(fd, tail, size - tail)
    finally:
        os.close(fd)


class Relay:
    def __init__(self):
        self.cmd_fd, self.done_fd = setup()
        self.pending = b""
        self.inbuf = b""

    def message(self, block=True):
        """The next request from the harness (unbuffered, so `select` on fd 0 tells the truth)."""
        while b"\n" not in self.inbuf:
            if not block and not select.select([0], [], [], 0)[0]:
                return None
            chunk = os.read(0, 65536)
            if not chunk:
                sys.exit(0)
            self.inbuf += chunk
        line, self.inbuf = self.inbuf.split(b"\n", 1)
        return json.loads(line) if line.strip() else {}

    def wait_done(self, nonce):
        """Wait for `nonce rc` on the done FIFO; lines with another nonce are forgeries (a process
        of the agent's writing into the FIFO) and are counted, not believed. Returns (rc, forged,
        aborted)."""
        forged = 0
        want = nonce.encode()
        while True:
            while b"\n" in self.pending:
                line, self.pending = self.pending.split(b"\n", 1)
                parts = line.split()
                if len(parts) >= 2 and parts[0] == want:
                    return parts[1].decode("ascii", "replace"), forged, False
                if line.strip():
                    forged += 1
            ready, _, _ = select.select([self.done_fd, 0], [], [])
            if 0 in ready or b"\n" in self.inbuf:
                msg = self.message(block=False)
                if msg is not None and msg.get("op") == "abort":
                    return None, forged, True
            if self.done_fd in ready:
                try:
                    chunk = os.read(self.done_fd, 65536)
                except BlockingIOError:
                    chunk = b""
                self.pending += chunk
                if len(self.pending) > 1 << 20:  # a flood: keep the tail, where the answer will be
                    self.pending = self.pending[-4096:]
                    forged += 1

    def drain(self):
        """Forget stale lines (a restarted shell must not see the last one's commands)."""
        for fd in (self.cmd_fd, self.done_fd):
            try:
                while os.read(fd, 65536):
                    pass
            except BlockingIOError:
                pass
        self.pending = b""

    def run(self, msg):
        nonce = msg["nonce"]
        fd = os.open(SCRIPT, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
        data = msg["cmd"].encode("utf-8", "surrogateescape")
        while data:
            data = data[os.write(fd, data):]
        os.close(fd)
        wrapper = (f"builtin . {SCRIPT} > {OUT} 2>&1 < /dev/null; "
                   f"builtin printf '%s %s\\n' {nonce} \"$?\" > {DONE_FIFO}\n")
        os.write(self.cmd_fd, wrapper.encode())
        rc, forged, aborted = self.wait_done(nonce)
        meta, body = read_output(msg.get("head", 8192), msg.get("tail", 8192))
        reply({"op": "run", "nonce": nonce, "rc": None if rc is None else int(rc) if rc.lstrip("-").isdigit()
               else None, "aborted": aborted, "forged": forged, "full": full(msg.get("watch", [])), **meta}, body)

    def hello(self, msg):
        self.drain()
        nonce = msg["nonce"]
        os.write(self.cmd_fd, f"builtin printf '%s %s\\n' {nonce} $$ > {DONE_FIFO}\n".encode())
        pid, forged, aborted = self.wait_done(nonce)
        reply({"op": "hello", "pid": None if pid is None else int(pid), "aborted": aborted})

    def scan(self, msg):
        found = []
        for root in msg.get("roots", []):
            found += scan_tree(root, msg.get("limit", 5000))
        reply({"op": "scan"}, json.dumps(found).encode())

    def loop(self):
        reply({"op": "ready", "pid": os.getpid()})
        while True:
            msg = self.message()
            op = msg.get("op")
            if op == "run":
                self.run(msg)
            elif op == "hello":
                self.hello(msg)
            elif op == "read":
                meta, body = read_output(msg.get("head", 8192), msg.get("tail", 8192))
                reply({"op": "read", **meta}, body)
            elif op == "scan":
                self.scan(msg)
            elif op == "abort":
                reply({"op": "abort"})


def full(paths):
    """The watched filesystems that are (nearly) full: the agent is told when it hits a quota."""
    out = []
    for p in paths:
        try:
            st = os.statvfs(p)
        except OSError:
            continue
        if st.f_blocks and st.f_bavail <= st.f_blocks * 0.02:
            out.append(p)
    return out


def scan_tree(root, limit):
    """Files outside the workspace that a test runner would load: name, size and mtime."""
    out, stack, seen = [], [root], 0
    while stack and seen < limit:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            seen += 1
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            name = e.name
            if stat.S_ISDIR(st.st_mode):
                if name in RUNNER_NAMES:
                    out.append({"path": e.path, "kind": "dir", "size": 0, "mtime": st.st_mtime_ns})
                stack.append(e.path)
            elif name in RUNNER_NAMES or name.endswith(".pth") or (name.startswith("pytest_")
                                                                  and name.endswith(".py")):
                out.append({"path": e.path, "kind": "link" if stat.S_ISLNK(st.st_mode) else "file",
                            "size": st.st_size, "mtime": st.st_mtime_ns})
    return out


if __name__ == "__main__":
    Relay().loop()
