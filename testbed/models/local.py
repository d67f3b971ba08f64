"""`local` (Qwen2.5-Coder-1.5B-Instruct) and `local-small` (SmolLM2-135M-Instruct): offline models
served by llama-cpp-python's OpenAI-compatible server, which the harness starts for the run and
stops at its end, and talked to through the same Chat Completions client as any hosted server.

The server: `python -m llama_cpp.server` on 127.0.0.1 at a free port, with the verified GGUF from
`testbed.models.assets`; ready when `/v1/models` answers; stopped by its PID (SIGTERM, then
SIGKILL) in `close()`, which the runner calls at the end of every run, also after Ctrl-C or
SIGTERM. The server runs in its own session, so a Ctrl-C in the terminal reaches the harness, which
stops it; and it is started with PR_SET_PDEATHSIG (SIGKILL), so even a `kill -9` of the harness
takes it down. It uses half the CPU cores (at most 8; `@threads=N` to change): llama.cpp's threads
wait for each other at every operation, and on a busy machine two threads on two cores measured 12x
slower than one.
Its output goes to a temporary log, whose tail is quoted if it fails.
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from testbed.models import assets
from testbed.models.api import OPTION_TYPES, Reply, split_options
from testbed.models.base import Message, ModelContext, ModelError, ModelSpecError
from testbed.models.compatible import ChatCompletionsModel
from testbed.models.prices import FREE, Price

# How the model is told to act when its replies are parsed as text (see textparse.py).
TEXT_TOOLS_HINT = """

How to act: end each reply with exactly one action.
- To run a shell command, put it in a fenced block:
```bash
ls -la
```
- To run the test suite, reply with {{"name": "run_tests"}}.{give_up}
Write one action per reply, then wait for its output."""
GIVE_UP_HINT = '\n- To stop because you cannot finish, reply with {"name": "give_up", "arguments": {"reason": "..."}}.'

LOCAL_MODELS: dict[str, dict[str, Any]] = {
    # n_ctx: prompt + reply. On a few CPU cores an 8k prompt that misses the prefix cache already
    # takes a minute or more to read, so neither model gets more, though Qwen was trained on 32k.
    # max_tokens: a whole source file, rewritten with `cat > path <<'EOF'`, fits one reply.
    "local": {"n_ctx": 8192, "max_tokens": 1024, "temperature": 0.7},
    "local-small": {"n_ctx": 8192, "max_tokens": 512, "temperature": 0.7},
}
START_TIMEOUT_S = 300.0


class LlamaServer:
    """One llama-cpp-python server process, owned by this harness process."""

    def __init__(self, model_path: Path, n_ctx: int, threads: int, chat_format: str | None = None,
                 alias: str = "local"):
        self.model_path, self.n_ctx, self.threads = model_path, n_ctx, threads
        self.chat_format, self.alias = chat_format, alias
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, port: int) -> list[str]:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
               "--model_alias", self.alias, "--host", "127.0.0.1", "--port", str(port),
               "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
               "--n_threads_batch", str(self.threads)]
        if self.chat_format:
            cmd += ["--chat_format", self.chat_format]
        return cmd

    def start(self, timeout: float = START_TIMEOUT_S) -> str:
        last_error = ""
        for _ in range(3):  # a free port can be taken between our probe and the server's bind
            self.port = free_port()
            fd, log = tempfile.mkstemp(prefix="testbed-llama-", suffix=".log")
            self.log_path = Path(log)
            self.proc = subprocess.Popen(self.command(self.port), stdout=fd, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=_server_env(),
                                         start_new_session=True, preexec_fn=_die_with_parent)
            os.close(fd)
            try:
                self._wait_ready(timeout)
                return self.base_url
            except ModelError as exc:
                last_error = str(exc)
                self.stop(keep_log=True)
                if "address already in use" not in last_error.lower():
                    break
        raise ModelError(last_error)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ModelError(f"the llama.cpp server exited with status {self.proc.returncode} before "
                                 f"it was ready:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        raise ModelError(f"the llama.cpp server did not answer on {self.base_url} within {timeout:g} s:\n"
                         f"{self.log_tail()}")

    def stop(self, keep_log: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                # uvicorn's graceful shutdown would wait for a generation still running after a
                # Ctrl-C, so the grace period is short
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if proc is not None and proc.poll() is None:
            proc.wait(timeout=10)
        if self.log_path is not None and not keep_log:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:] if self.log_path else ""
        except OSError:
            return ""


class LocalModel(ChatCompletionsModel):
    """A ChatCompletionsModel whose server the harness runs."""

    provider = "local"
    text_tools_default = True
    protocol_default = "shell"

    def __init__(self, spec: str, asset: str, options: dict[str, Any]):
        settings = LOCAL_MODELS[asset]
        self.asset = assets.ASSETS[asset]
        self.n_ctx = options.get("context", settings["n_ctx"])
        # A CPU server that times out is too slow, not overloaded for a moment: wait long, retry little.
        options = {"timeout": 1800.0, "retries": 2, **options}
        super().__init__(spec, asset, None, options, key=None, context=self.n_ctx,
                         max_tokens=settings["max_tokens"], default_temperature=settings["temperature"])
        self.threads = options.get("threads", max(1, min(8, (os.cpu_count() or 2) // 2)))
        self.window.reserve += 256  # the hint added to the system prompt, and the chat template
        self.server: LlamaServer | None = None

    def _default_price(self) -> Price | None:
        return FREE

    def _request_params(self) -> dict[str, Any]:
        params = super()._request_params()
        params.pop("base_url", None)  # a fresh port each run
        params.update({"server": "llama-cpp-python " + _llama_version(), "gguf": self.asset.filename,
                       "gguf_sha256": self.asset.sha256, "title": self.asset.title, "n_ctx": self.n_ctx,
                       "n_threads": self.threads})
        if self.protocol != "shell":
            params.update({"text_tools_hint": TEXT_TOOLS_HINT.format(give_up=GIVE_UP_HINT).strip(),
                           "text_tools_hint_note": "appended to the system prompt; the give_up line only "
                                                   "when the give_up tool is offered"})
        return params

    def _seed_sent(self) -> int | None:
        # llama.cpp resets its sampler to the request's seed: one seed for every request made the
        # same reply to the same context again, so a stuck model stayed stuck verbatim. Each step
        # gets its own seed, still a function of the run's seed (the run stays reproducible).
        if "seed" in self.options:
            return self.options["seed"]
        return None if self.seed is None else self.seed * 1000 + self.step

    def _seed_described(self) -> int | str | None:
        return self.options["seed"] if "seed" in self.options else "run_seed*1000+step"

    def start(self, ctx: ModelContext) -> None:
        super().start(ctx)
        path = assets.ready(self.asset.name)
        if path is None:
            raise ModelError(f"{self.name}: the model file is not set up: {_setup_hint(self.asset.name)}")
        self.close()
        self.server = LlamaServer(path, self.n_ctx, self.threads, alias=self.asset.name)
        self.base_url = self.server.start()
        self._client = None

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self._client = None

    def _request(self, messages: list[Message], tools: list[dict[str, Any]]) -> Reply:
        if self.server is None:
            raise ModelError(f"{self.name}: the local server is not running (start() first)")
        if self.server.proc is not None and self.server.proc.poll() is not None:
            raise ModelError(f"{self.name}: the llama.cpp server died (status {self.server.proc.returncode}):\n"
                             f"{self.server.log_tail()}")
        return super()._request(messages, tools)

    def chat_messages(self, messages: list[Message], tools: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return local_chat_messages(self, messages, tools)


def local_chat_messages(model: ChatCompletionsModel, messages: list[Message], tools: list[dict[str, Any]]
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What a local model is sent: the shell protocol's prompt, or the text-tools hint and no tools."""
    if model.protocol == "shell":
        return ChatCompletionsModel.chat_messages(model, messages, tools)
    hint = TEXT_TOOLS_HINT.format(give_up=GIVE_UP_HINT if any(t["name"] == "give_up" for t in tools) else "")
    if messages and messages[0].get("role") == "system":
        messages = [{**messages[0], "content": str(messages[0].get("content") or "") + hint}, *messages[1:]]
    return ChatCompletionsModel.chat_messages(model, messages, [])


def from_spec(spec: str) -> LocalModel:
    base, options = split_options(spec, set(OPTION_TYPES) - {"reasoning", "summary", "api", "cache",
                                                              "thinking", "price_in", "price_out",
                                                              "text_tools"})
    if options.get("threads", 1) < 1:
        raise ModelSpecError("threads must be at least 1")
    if base not in LOCAL_MODELS:
        raise ModelSpecError(f"unknown local model {base!r} (known: {', '.join(LOCAL_MODELS)})")
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise ModelSpecError(f"{base}: llama-cpp-python is not installed: run `make setup`") from None
    if assets.ready(base) is None:
        raise ModelSpecError(f"{base}: the model file is not set up: {_setup_hint(base)}")
    return LocalModel(spec, base, options)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup_hint(name: str) -> str:
    return f"run `make setup` (or `.venv/bin/python -m testbed.models.assets ensure {name}`)"


def _server_env() -> dict[str, str]:
    """The server needs no credentials: API keys are not passed on."""
    return {k: v for k, v in os.environ.items()
            if not any(s in k.upper() for s in ("API_KEY", "TOKEN", "SECRET", "PASSWORD"))}


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _llama_version() -> str:
    try:
        from importlib.metadata import version
        return version("llama_cpp_python")
    except Exception:
        return "unknown"
