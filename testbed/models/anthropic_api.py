"""`anthropic:MODEL` — Claude through the `anthropic` SDK's Messages API, with tool use.

Extended thinking is on by default for the model families that have it (Claude 3.7 and 4.x;
`@thinking=0` turns it off, `@thinking=N` sets the budget) and goes to the `thinking` channel;
redacted thinking is noted as such. Each earlier reply's content blocks go back verbatim (thinking
blocks keep their signatures, which Anthropic requires during tool use). The newest message carries
a cache breakpoint, so the growing conversation is read from Anthropic's prompt cache
(`@cache=0` turns this off); cache reads and writes are priced separately. The key comes from
ANTHROPIC_API_KEY; the base URL from ANTHROPIC_BASE_URL if set.
"""
from __future__ import annotations

import os
import re
from typing import Any

from testbed.log import ToolCall
from testbed.models.api import (OPTION_TYPES, ApiModel, Reply, api_key, split_options, text_mode,
                                text_mode_result)
from testbed.models.base import Message, ModelSpecError
from testbed.models.compatible import parse_arguments

# Families documented (as of 2025-10) to take a manual thinking budget.
THINKING_MODEL = re.compile(r"^claude-(3-7-sonnet|opus-4(-[015])?|sonnet-4(-[05])?|haiku-4-5)(-\d{8})?$")
DEFAULT_THINKING_BUDGET = 4096
DEFAULT_BASE = "https://api.anthropic.com"


class AnthropicModel(ApiModel):
    provider = "anthropic"

    def __init__(self, spec: str, model: str, options: dict[str, Any], key: str | None,
                 base_url: str | None = None):
        self.thinking = _thinking_option(model, options.get("thinking"))
        budget = self.thinking.get("budget_tokens", 0) if self.thinking else 0
        default_max = 16_000 if self.thinking else 8192
        super().__init__(spec, model, options, key, context=options.get("context", 200_000),
                         max_tokens=default_max)
        if self.thinking:
            if self.thinking["type"] == "enabled" and self.max_tokens <= budget:
                raise ModelSpecError("anthropic: max_tokens must be larger than the thinking budget")
            if options.get("temperature") not in (None, 1.0):
                raise ModelSpecError("anthropic: extended thinking needs temperature 1 (or @thinking=0)")
        self.base_url = base_url or DEFAULT_BASE
        self.temperature = options.get("temperature")
        self.top_p = options.get("top_p")
        self.cache = options.get("cache", True)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from anthropic import Anthropic
            except ImportError:
                raise ModelSpecError("the anthropic package is missing: run `make setup`") from None
            self._client = Anthropic(api_key=self._key, base_url=self.base_url, max_retries=0,
                                     timeout=self.timeout)
        return self._client

    def _request_params(self) -> dict[str, Any]:
        return {"api": "messages", "base_url": self.base_url, "temperature": self.temperature,
                "top_p": self.top_p, "max_tokens": self.max_tokens,
                "thinking": self._thinking(), "prompt_cache": self.cache,
                "seed_note": "the Messages API takes no seed"}

    def _thinking(self) -> dict[str, Any] | None:
        return self.thinking

    def _request(self, messages: list[Message], tools: list[dict[str, Any]]) -> Reply:
        system, conv = to_anthropic(messages, cache=self.cache)
        params: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "messages": conv}
        if system:
            params["system"] = system
        if tools:
            params["tools"] = [{"name": t["name"], "description": t.get("description", ""),
                                "input_schema": t.get("parameters", {"type": "object", "properties": {}})}
                               for t in tools]
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.thinking:
            params["thinking"] = self.thinking
        return from_anthropic(self.client.messages.create(**params))


def to_anthropic(messages: list[Message], cache: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Provider-neutral messages → (system, Messages API messages). Tool results and the harness's
    notices that follow them share one user message; roles alternate."""
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    out: list[dict[str, Any]] = []
    text_ids: set[str] = set()

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": list(blocks)})

    for m in messages:
        role = m.get("role")
        content = str(m.get("content") or "")
        if role == "system":
            continue
        if role == "assistant":
            calls = m.get("tool_calls") or []
            if text_mode(m):
                text_ids.update(c["id"] for c in calls)
            if m.get("_raw") is not None:
                add("assistant", [dict(b) for b in m["_raw"]])
                continue
            blocks = [{"type": "text", "text": content}] if content.strip() else []
            if not text_mode(m):
                blocks += [{"type": "tool_use", "id": c["id"], "name": c["name"], "input": c.get("arguments") or {}}
                           for c in calls]
            add("assistant", blocks or [{"type": "text", "text": "(no reply)"}])
        elif role == "tool" and m.get("tool_call_id") not in text_ids:
            add("user", [{"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": content or "(no output)"}])
        else:
            add("user", [{"type": "text", "text": text_mode_result(m) if role == "tool" else (content or "(empty)")}])
    if cache and out and out[-1]["role"] == "user" and out[-1]["content"]:
        out[-1]["content"][-1] = {**out[-1]["content"][-1], "cache_control": {"type": "ephemeral"}}
    return system, out


def from_anthropic(response: Any) -> Reply:
    texts, thinking, calls, notes, raw = [], [], [], [], []
    for block in getattr(response, "content", None) or []:
        kind = getattr(block, "type", None)
        raw.append(block.model_dump(exclude_none=True, warnings=False) if hasattr(block, "model_dump") else dict(block))
        if kind == "text":
            texts.append(block.text)
        elif kind == "thinking":
            thinking.append(block.thinking)
        elif kind == "redacted_thinking":
            thinking.append("[redacted thinking]")
        elif kind == "tool_use":
            raw_input = block.input
            args, problem = parse_arguments(block.name, raw_input)
            extra = {"raw_arguments": str(raw_input), "arguments_error": problem} if problem else {}
            calls.append(ToolCall(id=block.id, name=block.name, arguments=args, **extra))
            if problem:
                notes.append(f"tool call {len(calls)} ({block.name}): {problem}")
    usage = getattr(response, "usage", None)
    uncached = getattr(usage, "input_tokens", None)
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    written = getattr(usage, "cache_creation_input_tokens", None) or 0
    return Reply(text="\n\n".join(texts).strip(), thinking="\n\n".join(thinking) or None, calls=calls,
                 notes=notes, input_tokens=None if uncached is None else uncached + read + written,
                 output_tokens=getattr(usage, "output_tokens", None), cached_input_tokens=read,
                 cache_write_tokens=written, finish_reason=getattr(response, "stop_reason", None), raw=raw)


def _thinking_option(model: str, value: str | None) -> dict[str, Any] | None:
    """@thinking=N (a budget), adaptive, or 0/off; by default a 4096-token budget for the families
    known to take one, and nothing sent (the model's own default) for others."""
    if value is None:
        return {"type": "enabled", "budget_tokens": DEFAULT_THINKING_BUDGET} if THINKING_MODEL.match(model) else None
    value = value.strip().lower()
    if value in ("0", "off", "none", "disabled"):
        return None
    if value == "adaptive":
        return {"type": "adaptive"}
    if not value.isdigit() or int(value) < 1024:
        raise ModelSpecError("anthropic: thinking must be a budget of at least 1024 tokens, adaptive, or 0 (off)")
    return {"type": "enabled", "budget_tokens": int(value)}


def from_spec(spec: str) -> AnthropicModel:
    rest = spec.split(":", 1)[1]
    allowed = set(OPTION_TYPES) - {"threads", "reasoning", "summary", "api", "protocol"}
    model, options = split_options(rest, allowed)
    if not model:
        raise ModelSpecError("anthropic: expected anthropic:MODEL, e.g. anthropic:claude-sonnet-4-5")
    if "seed" in options:
        raise ModelSpecError("anthropic: the Messages API takes no seed")
    key = api_key("ANTHROPIC_API_KEY")
    return AnthropicModel(spec, model, options, key, os.environ.get("ANTHROPIC_BASE_URL") or None)
