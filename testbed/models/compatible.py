"""`openai-compatible:BASE_URL:MODEL` — any server that speaks OpenAI's Chat Completions API (vLLM,
llama.cpp, Ollama, LM Studio, OpenRouter, …), through the `openai` SDK.

`ChatCompletionsModel` is also the client behind `gemini:`, `local`, `local-small` and
`openai:MODEL@api=chat`: one code path for every Chat Completions server. Thinking comes from the
message's `reasoning_content` / `reasoning` field (vLLM, DeepSeek, llama.cpp, Ollama) or from
leading `<think>`/`<thought>` blocks in the text. The key, if the server needs one, is read from
OPENAI_COMPATIBLE_API_KEY; servers that need none get a placeholder.
"""
from __future__ import annotations

import json
import re
from typing import Any

from testbed.log import ToolCall
from testbed.models import protocol
from testbed.models.api import (OPTION_TYPES, TEXT_RESULT, ApiModel, Reply, api_key, split_options,
                                text_mode, text_mode_result)
from testbed.models.base import Message, ModelSpecError

THINK_BLOCK = re.compile(r"^\s*<(think|thought|thinking)>(.*?)</\1>\s*", re.DOTALL)
_URL_MODEL = re.compile(r"^(https?://[^/\s:]+(?::\d+)?(?:/[^\s:]*)?):(.+)$")
NO_KEY = "not-needed"  # servers without authentication still want some bearer token


class ChatCompletionsModel(ApiModel):
    provider = "openai-compatible"
    text_tools_default = True
    token_param = "max_tokens"       # OpenAI itself wants max_completion_tokens
    sends_seed = True
    text_result = TEXT_RESULT        # how results of calls parsed from text go back
    shell_reminder = True            # the shell protocol's format reminder on requests after the first
    collapse_repeats = True          # the shell protocol sends a repeated tool output as a pointer

    def __init__(self, spec: str, model: str, base_url: str | None, options: dict[str, Any],
                 key: str | None, context: int | None = 128_000, max_tokens: int = 4096,
                 extra_body: dict[str, Any] | None = None, default_temperature: float | None = None):
        super().__init__(spec, model, options, key, context=context, max_tokens=max_tokens)
        self.base_url = base_url
        self.temperature = options.get("temperature", default_temperature)
        self.top_p = options.get("top_p")
        self.extra_body = extra_body or {}
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from openai import OpenAI
            except ImportError:
                raise ModelSpecError("the openai package is missing: run `make setup`") from None
            self._client = OpenAI(api_key=self._key or NO_KEY, base_url=self.base_url, max_retries=0,
                                  timeout=self.timeout)
        return self._client

    def _request_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"api": "chat.completions", "base_url": self.base_url,
                                  "temperature": self.temperature, self.token_param: self.max_tokens}
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.extra_body:
            params["extra_body"] = self.extra_body
        if self.protocol == protocol.SHELL:
            params["stop"] = protocol.STOP
            # recorded with placeholders: the run's test command and files are in its config, the
            # shown code in its shadow git (config.prompt_sources names the files)
            params["shell_prompt"] = protocol.shell_prompt(protocol.TEST_COMMAND_SLOT, True).strip()
            params["shell_reminder"] = protocol.REMINDER if self.shell_reminder else None
            params["collapse_repeats"] = protocol.REPEAT_NOTE if self.collapse_repeats else None
        return params

    def chat_messages(self, messages: list[Message], tools: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The Chat Completions messages and tools one request sends (the shell protocol's format
        joins the system prompt, and its requests carry no tools)."""
        if self.protocol == protocol.SHELL:
            suffix = self.shell_suffix(any(t["name"] == "give_up" for t in tools))
            if messages and messages[0].get("role") == "system":
                messages = [{**messages[0], "content": str(messages[0].get("content") or "") + suffix}, *messages[1:]]
            if self.collapse_repeats:
                messages = protocol.collapse_repeats(messages)
            chat = to_chat(messages, self.text_result)
            return (protocol.with_reminder(chat) if self.shell_reminder else chat), []
        return to_chat(messages, self.text_result), tools

    def shell_suffix(self, give_up: bool) -> str:
        """The shell protocol's part of the system prompt."""
        return protocol.shell_prompt(self.test_command, give_up, self.files, self.sources)

    def _request(self, messages: list[Message], tools: list[dict[str, Any]]) -> Reply:
        chat, tools = self.chat_messages(messages, tools)
        params: dict[str, Any] = {"model": self.model, "messages": chat, self.token_param: self.max_tokens}
        if self.protocol == protocol.SHELL:
            params["stop"] = protocol.STOP
        if tools:
            params["tools"] = [{"type": "function", "function": t} for t in tools]
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.top_p is not None:
            params["top_p"] = self.top_p
        seed = self._seed_sent()
        if seed is not None:
            params["seed"] = seed
        if self.extra_body:
            params["extra_body"] = self.extra_body
        return from_chat(self.client.chat.completions.create(**params))


def to_chat(messages: list[Message], text_result: str = TEXT_RESULT) -> list[dict[str, Any]]:
    """Provider-neutral messages → Chat Completions messages (meta dropped; calls parsed from text
    sent back as the text the model wrote; consecutive user messages joined)."""
    out: list[dict[str, Any]] = []
    text_ids: set[str] = set()
    for m in messages:
        role = m.get("role")
        content = str(m.get("content") or "")
        if role == "assistant":
            calls = m.get("tool_calls") or []
            if calls and not text_mode(m):
                out.append({"role": "assistant", "content": content or None, "tool_calls": [
                    {"id": c["id"], "type": "function",
                     "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments") or {})}}
                    for c in calls]})
            else:
                text_ids.update(c["id"] for c in calls)
                out.append({"role": "assistant", "content": content})
        elif role == "tool" and m.get("tool_call_id") not in text_ids:
            out.append({"role": "tool", "tool_call_id": m.get("tool_call_id"), "content": content})
        else:
            if role == "tool":
                content = text_mode_result(m, text_result)
            role = "system" if role == "system" else "user"
            if role == "user" and out and out[-1]["role"] == "user":
                out[-1]["content"] += "\n\n" + content
            else:
                out.append({"role": role, "content": content})
    return out


def from_chat(response: Any) -> Reply:
    if not getattr(response, "choices", None):
        raise ValueError(f"the server returned no choices: {str(response)[:300]}")
    choice = response.choices[0]
    message = choice.message
    text = message.content or ""
    thinking = _field(message, "reasoning_content") or _field(message, "reasoning")
    m = THINK_BLOCK.match(text)
    while m:
        thinking = "\n\n".join(filter(None, [thinking, m.group(2).strip()]))
        text = text[m.end():]
        m = THINK_BLOCK.match(text)
    calls, notes = [], []
    for n, tc in enumerate(message.tool_calls or []):
        fn = getattr(tc, "function", None)
        if fn is None:
            continue
        args, problem = parse_arguments(fn.name, fn.arguments)
        call = ToolCall(id=tc.id or f"call_{n}", name=fn.name, arguments=args)
        if problem:
            call = ToolCall(id=call.id, name=fn.name, arguments=args, raw_arguments=str(fn.arguments),
                            arguments_error=problem)
            notes.append(f"tool call {n + 1} ({fn.name}): {problem}")
        calls.append(call)
    usage = getattr(response, "usage", None)
    details_in = getattr(usage, "prompt_tokens_details", None)
    details_out = getattr(usage, "completion_tokens_details", None)
    return Reply(text=text.strip(), thinking=thinking, calls=calls, notes=notes,
                 input_tokens=getattr(usage, "prompt_tokens", None),
                 output_tokens=getattr(usage, "completion_tokens", None),
                 cached_input_tokens=getattr(details_in, "cached_tokens", None) or 0,
                 reasoning_tokens=getattr(details_out, "reasoning_tokens", None),
                 finish_reason=choice.finish_reason)


def parse_arguments(name: str, raw: Any) -> tuple[dict[str, Any], str | None]:
    """A tool call's JSON arguments. Malformed JSON is repaired where the intent is unambiguous (raw
    control characters in strings; a bash command string); otherwise the call keeps empty arguments
    and the problem is reported."""
    if isinstance(raw, dict):
        return raw, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    try:
        value = json.loads(raw, strict=False)
    except (TypeError, json.JSONDecodeError) as exc:
        if name == "bash":
            m = re.match(r'^\s*\{\s*"command"\s*:\s*"(.*?)"?\s*\}?\s*$', str(raw), re.DOTALL)
            if m:
                try:
                    return {"command": json.loads(f'"{m.group(1)}"', strict=False)}, None
                except json.JSONDecodeError:
                    pass
        return {}, f"arguments are not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"
    if not isinstance(value, dict):
        return {}, f"arguments are JSON but not an object: {str(raw)[:80]}"
    return value, None


def _field(message: Any, name: str) -> str | None:
    value = getattr(message, name, None)
    if value is None:
        value = (getattr(message, "model_extra", None) or {}).get(name)
    return value if isinstance(value, str) and value.strip() else None


def from_spec(spec: str) -> ChatCompletionsModel:
    rest = spec.split(":", 1)[1]
    allowed = set(OPTION_TYPES) - {"threads", "thinking", "reasoning", "summary", "api", "cache"}
    rest, options = split_options(rest, allowed)
    m = _URL_MODEL.match(rest)
    if not m or m.group(2).isdigit():
        raise ModelSpecError(f"openai-compatible: expected openai-compatible:BASE_URL:MODEL "
                             f"(e.g. openai-compatible:http://127.0.0.1:8000/v1:qwen2.5-coder), got {spec!r}")
    key = api_key("OPENAI_COMPATIBLE_API_KEY", required=False)
    return ChatCompletionsModel(spec, m.group(2), m.group(1), options, key)
