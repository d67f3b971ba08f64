"""What every provider that calls a model server shares: the spec options, retries, the context
window, token usage and cost, the fallback parser for actions written as text, and keeping API keys
out of everything that is recorded.

A provider subclasses `ApiModel` and implements `_request(messages, tools) -> Reply` (one HTTP call
through its SDK, with the SDK's own retries off) and `_request_params()` (what it sends besides the
conversation, for `describe()`).
"""
from __future__ import annotations

import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from testbed.log import ToolCall, Usage
from testbed.models import protocol, textparse
from testbed.models.base import Message, ModelContext, ModelError, ModelSpecError, Turn
from testbed.models.history import ContextWindow
from testbed.models.history import describe as describe_window
from testbed.models.prices import Price, from_options, lookup
from testbed.models.retry import RetriesExhausted, RetryPolicy, call_with_retries, classify

# Options after `@` in a model spec: `openai:gpt-4.1@temperature=0.2,max_tokens=2048`.
OPTION_TYPES: dict[str, type] = {
    "temperature": float, "top_p": float, "max_tokens": int, "seed": int, "context": int,
    "timeout": float, "retries": int, "retry_base": float, "retry_cap": float,
    "text_tools": bool, "thinking": str, "reasoning": str, "summary": str, "api": str,
    "price_in": float, "price_out": float, "cache": bool, "threads": int, "protocol": str,
}
_OPTIONS = re.compile(r"^(.*)@((?:[a-z_]+=[^,@=]*)(?:,[a-z_]+=[^,@=]*)*)$")


def split_options(rest: str, allowed: set[str], types: dict[str, type] | None = None) -> tuple[str, dict[str, Any]]:
    """`gpt-4.1@temperature=0.2,seed=3` → ("gpt-4.1", {"temperature": 0.2, "seed": 3})."""
    m = _OPTIONS.match(rest)
    if not m:
        return rest, {}
    options: dict[str, Any] = {}
    for item in m.group(2).split(","):
        key, _, value = item.partition("=")
        if key not in allowed:
            raise ModelSpecError(f"unknown model option {key!r} (known here: {', '.join(sorted(allowed))})")
        kind = (types or OPTION_TYPES)[key]
        try:
            if kind is bool:
                if value.lower() not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
                    raise ValueError
                options[key] = value.lower() in ("1", "true", "on", "yes")
            else:
                options[key] = kind(value)
        except ValueError:
            raise ModelSpecError(f"model option {key}={value!r}: expected {kind.__name__}") from None
    return m.group(1), options


def api_key(*names: str, required: bool = True) -> str | None:
    """An API key from the environment (the only place keys are read from)."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    if required:
        raise ModelSpecError(f"no API key: set {' or '.join(names)} in the environment")
    return None


@dataclass
class Reply:
    """One provider response, reduced to what the harness records."""

    text: str = ""
    thinking: str | None = None
    calls: list[ToolCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # problems with structured calls
    input_tokens: int | None = None                  # every prompt token, cached or not
    output_tokens: int | None = None                 # thinking/reasoning included
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None
    finish_reason: str | None = None
    raw: Any = None                                  # provider items to send back verbatim later
    internal: dict[str, Any] | None = None           # white-box readings of the reply (hf: models)


class ApiModel:
    provider = "api"            # the price table's section
    text_tools_default = False  # parse actions out of the text when no structured call comes
    protocol_default = protocol.TOOLS
    sends_seed = False          # the API takes a seed: the run's seed is sent unless @seed= is given

    def __init__(self, spec: str, model: str, options: dict[str, Any], key: str | None,
                 context: int | None = 128_000, max_tokens: int = 4096):
        self.name = spec
        self.model = model
        self.options = options
        self._key = key
        self.retry = RetryPolicy(attempts=options.get("retries", 6), base_s=options.get("retry_base", 1.0),
                                 cap_s=options.get("retry_cap", 60.0))
        if self.retry.attempts < 1:
            raise ModelSpecError("retries must be at least 1")
        self.max_tokens = options.get("max_tokens", max_tokens)
        self.timeout = options.get("timeout", 600.0)
        self.text_tools = options.get("text_tools", self.text_tools_default)
        self.protocol = options.get("protocol", self.protocol_default)
        if self.protocol not in protocol.PROTOCOLS:
            raise ModelSpecError(f"protocol must be one of {', '.join(protocol.PROTOCOLS)}, not {self.protocol!r}")
        if self.protocol == protocol.SHELL:
            self.text_tools = True
        self.test_command = ""
        self.files: list[str] = []
        self.sources: dict[str, str] = {}
        self.window = ContextWindow(options.get("context", context), reserve=self.max_tokens)
        if "price_in" in options or "price_out" in options:
            self.price: Price | None = from_options(options.get("price_in"), options.get("price_out"))
        else:
            self.price = self._default_price()
        self.seed: int | None = None
        self.step = 1                  # the step the request being made belongs to
        self.last_reply: str | None = None
        self.rng = random.Random(0)
        self.raw_replies: list[Any] = []  # per assistant turn, for providers that replay items

    # -- the Model protocol -----------------------------------------------------------------------
    def start(self, ctx: ModelContext) -> None:
        self.seed = ctx.seed
        self.test_command, self.files, self.sources = ctx.test_command, list(ctx.files), dict(ctx.sources)
        self.rng = random.Random(f"{ctx.run_id}:retry")
        self.window = ContextWindow(self.window.max_tokens, reserve=self.window.reserve)
        self.raw_replies = []
        self.step, self.last_reply = 1, None

    def turn(self, messages: list[Message], tools: list[dict[str, Any]]) -> Turn:
        self.step = 1 + sum(1 for m in messages if m.get("role") == "assistant")
        full = self._with_raw(messages)
        kept = self.window.select(full)
        t0 = time.monotonic()
        try:
            for shrink in range(3):
                try:
                    reply, attempts = call_with_retries(lambda: self._request(kept, tools), self.retry,
                                                        self.rng, on_retry=self._on_retry)
                    break
                except Exception as exc:
                    # Our token estimate was too low for this text: cut harder and ask again.
                    if shrink == 2 or len(full) <= 2 or not _context_overflow(exc):
                        raise
                    self.window.tighten()
                    kept = self.window.select(full)
        except RetriesExhausted as exc:
            raise ModelError(self._redact(f"{self.name}: {exc.failure.what}, gave up after "
                                          f"{exc.attempts} tries: {_brief(exc.last)}")) from None
        except ModelError as exc:
            raise ModelError(self._redact(str(exc))) from None
        except Exception as exc:  # a non-retryable API error: one clear message
            what = classify(exc).what
            raise ModelError(self._redact(f"{self.name}: {what}: {_brief(exc)}")) from None
        latency = (time.monotonic() - t0) * 1000
        self.window.calibrate(sum(len(str(m.get("content") or "")) for m in kept), reply.input_tokens)
        self.raw_replies.append(reply.raw)
        return self._turn(reply, latency, attempts, len(messages) - len(kept), {t["name"] for t in tools})

    def describe(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, **self._request_params(),
                "seed": self._seed_described(), "text_tools": self.text_tools, "protocol": self.protocol,
                "context": describe_window(self.window), "retry": self.retry.describe(),
                "timeout_s": self.timeout, "price_usd_per_mtok": self.price.describe() if self.price else None}

    def close(self) -> None:
        pass

    @property
    def no_action_text(self) -> str | None:
        """What the agent is told after a reply that did nothing (None: the loop's default)."""
        return (protocol.correction(self.files, self.last_reply, self.sources)
                if self.protocol == protocol.SHELL else None)

    # -- for providers ----------------------------------------------------------------------------
    def _request(self, messages: list[Message], tools: list[dict[str, Any]]) -> Reply:
        raise NotImplementedError

    def _request_params(self) -> dict[str, Any]:
        return {}

    def _seed_sent(self) -> int | None:
        """The seed each request carries (None: none is sent)."""
        if "seed" in self.options:
            return self.options["seed"]
        return self.seed if self.sends_seed else None

    def _seed_described(self) -> int | str | None:
        if "seed" in self.options:
            return self.options["seed"]
        return "run_seed" if self.sends_seed else None

    def _default_price(self) -> Price | None:
        return lookup(self.provider, self.model)

    # -- internals --------------------------------------------------------------------------------
    def _with_raw(self, messages: list[Message]) -> list[Message]:
        """The k-th assistant message gets the k-th reply's provider items under `_raw`, for
        providers that send earlier replies back verbatim (reasoning items, signed thinking)."""
        if not any(r is not None for r in self.raw_replies):
            return messages
        out, k = [], 0
        for m in messages:
            if m.get("role") == "assistant":
                raw = self.raw_replies[k] if k < len(self.raw_replies) else None
                k += 1
                if raw is not None:
                    m = {**m, "_raw": raw}
            out.append(m)
        return out

    def _turn(self, reply: Reply, latency_ms: float, attempts: int, left_out: int,
              tool_names: set[str]) -> Turn:
        # Structured calls are all kept, malformed ones too: each gets its (error) observation, and
        # providers that replay their replies need a result for every call they made.
        calls = list(reply.calls)
        note = None
        if self.protocol == protocol.SHELL:
            reply.text = protocol.close_fence(reply.text)
        self.last_reply = reply.text
        if not calls and self.text_tools:
            prefix = f"text_{len(self.raw_replies)}"
            parsed = (protocol.parse_shell(reply.text, tool_names, self.test_command, prefix, self.files, self.sources)
                      if self.protocol == protocol.SHELL else textparse.parse_reply(reply.text, tool_names, prefix))
            calls = parsed.calls
            note = parsed.note
        if not any(c.name != "bash" or c.arguments.get("command") for c in calls):
            parts = reply.notes + ([note] if note else [])
            if not parts:
                parts = ["no tool call in the reply" + ("" if self.text_tools else " (text parsing off)")]
            if reply.finish_reason in ("length", "max_tokens"):
                parts.append(f"the reply was cut off at the token limit ({self.max_tokens})")
            note = "; ".join(parts)
        cost = self.price.cost(reply.input_tokens, reply.output_tokens, reply.cached_input_tokens,
                               reply.cache_write_tokens) if self.price else None
        extra: dict[str, Any] = {"attempts": attempts}
        if reply.cached_input_tokens:
            extra["cached_input_tokens"] = reply.cached_input_tokens
        if reply.cache_write_tokens:
            extra["cache_write_tokens"] = reply.cache_write_tokens
        if reply.reasoning_tokens is not None:
            extra["reasoning_tokens"] = reply.reasoning_tokens
        if left_out:
            extra["messages_left_out"] = left_out
        if reply.finish_reason:
            extra["finish_reason"] = reply.finish_reason
        usage = Usage(input_tokens=reply.input_tokens, output_tokens=reply.output_tokens, cost_usd=cost,
                      latency_ms=round(latency_ms, 1), **extra)
        return Turn(text=reply.text, thinking=reply.thinking or None, tool_calls=calls, usage=usage,
                    parse_note=note, internal=reply.internal)

    def _on_retry(self, attempt: int, failure: Any, wait: float) -> None:
        print(f"  {self.name}: {failure.what}; retry {attempt}/{self.retry.attempts - 1} in {wait:.1f} s",
              file=sys.stderr, flush=True)

    def _redact(self, text: str) -> str:
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "[redacted]")
        return text


_OVERFLOW = re.compile(r"context (length|window)|context_length_exceeded|prompt is too long|too many tokens"
                       r"|exceed(s|ed)? (the )?context", re.IGNORECASE)


def _context_overflow(exc: BaseException) -> bool:
    """A 400 that says the prompt is longer than the model's context."""
    return getattr(exc, "status_code", None) in (400, 413) and bool(_OVERFLOW.search(str(exc)))


def _brief(exc: BaseException, limit: int = 500) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "…"


def text_mode(message: Message) -> bool:
    """An assistant message whose calls were parsed out of its text: it goes back to the model as
    the plain text it wrote, and its results as user messages."""
    calls = message.get("tool_calls") or []
    return bool(calls) and all((c.get("origin") or {}).get("source") == "text" for c in calls)


TEXT_RESULT = "[{name} output]\n{output}"


def text_mode_result(message: Message, template: str = TEXT_RESULT) -> str:
    """The result of a call parsed from text, as the user message that carries it back."""
    return template.format(name=message.get("name") or "bash", output=message.get("content") or "(no output)")
