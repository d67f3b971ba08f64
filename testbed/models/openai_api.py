"""`openai:MODEL` — OpenAI through the `openai` SDK and the Responses API, which is where reasoning
models return their reasoning summaries (the `thinking` channel). Chat Completions return none;
`openai:MODEL@api=chat` uses them anyway (the same client as `openai-compatible`).

Requests are stateless (`store=false`): the whole conversation is sent each time, and each earlier
reply's output items — reasoning items with their encrypted content included — go back verbatim,
as OpenAI asks for reasoning models that call tools. The key comes from OPENAI_API_KEY; the base URL
from OPENAI_BASE_URL if set (a proxy, or a test server).
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

from testbed.log import ToolCall
from testbed.models.api import (OPTION_TYPES, ApiModel, Reply, api_key, split_options, text_mode,
                                text_mode_result)
from testbed.models.base import Message, ModelSpecError
from testbed.models.compatible import ChatCompletionsModel, parse_arguments

REASONING_MODEL = re.compile(r"^(o\d|gpt-5(?!-chat))")
DEFAULT_BASE = "https://api.openai.com/v1"


class OpenAIResponsesModel(ApiModel):
    provider = "openai"

    def __init__(self, spec: str, model: str, options: dict[str, Any], key: str | None,
                 base_url: str | None = None):
        super().__init__(spec, model, options, key, context=options.get("context", 128_000),
                         max_tokens=16_000 if REASONING_MODEL.match(model) else 4096)
        self.base_url = base_url or DEFAULT_BASE
        self.temperature = options.get("temperature")
        self.top_p = options.get("top_p")
        reasoning = REASONING_MODEL.match(model) is not None
        self.effort = options.get("reasoning", "medium" if reasoning else None)
        summary = options.get("summary", "auto" if self.effort else None)
        self.summary = None if summary == "none" else summary
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from openai import OpenAI
            self._client = OpenAI(api_key=self._key, base_url=self.base_url, max_retries=0,
                                  timeout=self.timeout)
        return self._client

    def _request_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"api": "responses", "base_url": self.base_url,
                                  "temperature": self.temperature, "max_output_tokens": self.max_tokens,
                                  "store": False, "seed_note": "the Responses API takes no seed"}
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.effort:
            params["reasoning"] = self._reasoning()
        return params

    def _reasoning(self) -> dict[str, Any]:
        out: dict[str, Any] = {"effort": self.effort}
        if self.summary:
            out["summary"] = self.summary
        return out

    def _request(self, messages: list[Message], tools: list[dict[str, Any]]) -> Reply:
        instructions, items = to_responses(messages)
        params: dict[str, Any] = {"model": self.model, "input": items, "store": False,
                                  "max_output_tokens": self.max_tokens}
        if instructions:
            params["instructions"] = instructions
        if tools:
            params["tools"] = [{"type": "function", "name": t["name"], "description": t.get("description", ""),
                                "parameters": t.get("parameters", {"type": "object", "properties": {}})}
                               for t in tools]
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.effort:
            params["reasoning"] = self._reasoning()
            params["include"] = ["reasoning.encrypted_content"]
        return from_responses(self.client.responses.create(**params))


def to_responses(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """Provider-neutral messages → (instructions, Responses input items)."""
    system = [str(m.get("content") or "") for m in messages if m.get("role") == "system"]
    items: list[dict[str, Any]] = []
    text_ids: set[str] = set()
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
                items.extend(m["_raw"])
                continue
            if content:
                items.append({"role": "assistant", "content": content})
            if not text_mode(m):
                items.extend({"type": "function_call", "call_id": c["id"], "name": c["name"],
                              "arguments": json.dumps(c.get("arguments") or {})} for c in calls)
        elif role == "tool" and m.get("tool_call_id") not in text_ids:
            items.append({"type": "function_call_output", "call_id": m.get("tool_call_id"), "output": content})
        else:
            items.append({"role": "user", "content": text_mode_result(m) if role == "tool" else content})
    return "\n\n".join(system), items


def from_responses(response: Any) -> Reply:
    texts, summaries, calls, notes, raw = [], [], [], [], []
    for n, item in enumerate(getattr(response, "output", None) or []):
        kind = getattr(item, "type", None)
        raw.append(item.model_dump(exclude_none=True) if hasattr(item, "model_dump") else dict(item))
        if kind == "message":
            for part in getattr(item, "content", None) or []:
                if getattr(part, "type", None) == "output_text":
                    texts.append(part.text)
                elif getattr(part, "type", None) == "refusal":
                    texts.append(f"[refusal] {part.refusal}")
        elif kind == "reasoning":
            for part in getattr(item, "summary", None) or []:
                if getattr(part, "text", None):
                    summaries.append(part.text)
        elif kind == "function_call":
            args, problem = parse_arguments(item.name, item.arguments)
            extra = {"raw_arguments": str(item.arguments), "arguments_error": problem} if problem else {}
            calls.append(ToolCall(id=item.call_id, name=item.name, arguments=args, **extra))
            if problem:
                notes.append(f"tool call {len(calls)} ({item.name}): {problem}")
    usage = getattr(response, "usage", None)
    details_in = getattr(usage, "input_tokens_details", None)
    details_out = getattr(usage, "output_tokens_details", None)
    status = getattr(response, "status", None)
    reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
    return Reply(text="\n\n".join(texts).strip(), thinking="\n\n".join(summaries) or None, calls=calls,
                 notes=notes, input_tokens=getattr(usage, "input_tokens", None),
                 output_tokens=getattr(usage, "output_tokens", None),
                 cached_input_tokens=getattr(details_in, "cached_tokens", None) or 0,
                 reasoning_tokens=getattr(details_out, "reasoning_tokens", None),
                 finish_reason="length" if reason == "max_output_tokens" else (reason or status), raw=raw)


class OpenAIChatModel(ChatCompletionsModel):
    """`openai:MODEL@api=chat`: OpenAI's Chat Completions (no reasoning summaries)."""

    provider = "openai"
    text_tools_default = False
    token_param = "max_completion_tokens"


def from_spec(spec: str) -> ApiModel:
    rest = spec.split(":", 1)[1]
    allowed = set(OPTION_TYPES) - {"threads", "thinking", "cache"}
    model, options = split_options(rest, allowed)
    if not model:
        raise ModelSpecError("openai: expected openai:MODEL, e.g. openai:gpt-4.1-mini")
    key = api_key("OPENAI_API_KEY")
    base_url = os.environ.get("OPENAI_BASE_URL") or None
    api = options.pop("api", "responses")
    if api == "chat":
        for k in ("reasoning", "summary"):
            if k in options:
                raise ModelSpecError(f"openai: {k}= needs the Responses API (drop api=chat)")
        return OpenAIChatModel(spec, model, base_url or DEFAULT_BASE, options, key)
    if api != "responses":
        raise ModelSpecError("openai: api must be responses or chat")
    if "seed" in options:
        raise ModelSpecError("openai: the Responses API takes no seed (api=chat does)")
    if "protocol" in options:
        raise ModelSpecError("openai: protocol= needs the Chat Completions API (add api=chat)")
    return OpenAIResponsesModel(spec, model, options, key, base_url)
