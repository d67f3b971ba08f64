"""`gemini:MODEL` — Google's Gemini through its OpenAI-compatible endpoint (the same Chat
Completions client as `openai-compatible`), with the key from GEMINI_API_KEY.

Gemini 2.5 models think; `include_thoughts` asks the endpoint to return their thought summaries,
which arrive in `<thought>` tags and go to the `thinking` channel (`@thinking=0` asks for none,
`@thinking=N` sets the thinking budget). The endpoint's seed support is not documented, so no seed
is sent unless `@seed=N` is given.
"""
from __future__ import annotations

import os
from typing import Any

from testbed.models.api import OPTION_TYPES, api_key, split_options
from testbed.models.base import ModelSpecError
from testbed.models.compatible import ChatCompletionsModel

BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai/"


class GeminiModel(ChatCompletionsModel):
    provider = "gemini"
    text_tools_default = False
    sends_seed = False


def from_spec(spec: str) -> GeminiModel:
    rest = spec.split(":", 1)[1]
    allowed = set(OPTION_TYPES) - {"threads", "reasoning", "summary", "api", "cache"}
    model, options = split_options(rest, allowed)
    if not model:
        raise ModelSpecError("gemini: expected gemini:MODEL, e.g. gemini:gemini-2.5-flash")
    key = api_key("GEMINI_API_KEY")
    extra: dict[str, Any] = {}
    if model.removeprefix("models/").startswith("gemini-2.5"):
        thinking = options.get("thinking")
        if thinking is not None and not thinking.lstrip("-").isdigit():
            raise ModelSpecError("gemini: thinking must be a token budget (0: no thoughts returned)")
        config: dict[str, Any] = {"include_thoughts": thinking is None or int(thinking) != 0}
        if thinking is not None:
            config["thinking_budget"] = int(thinking)
        # Google documents this doubly nested extra_body for the OpenAI SDK.
        extra = {"extra_body": {"google": {"thinking_config": config}}}
    base = os.environ.get("GEMINI_BASE_URL") or BASE_URL
    return GeminiModel(spec, model, base, options, key, context=options.get("context", 128_000),
                       extra_body=extra)
