"""Which part of the conversation goes into the next request.

A small-model pilot measured that a sliding window of the last N exchanges defeats the server's
prefix cache (every call re-reads the whole prompt: 25–56 s instead of 2–8 s per call on CPU). So
the full history is sent for as long as it fits, and when it does not, the oldest exchanges are cut
in one large chunk (down to `keep` of the room), so the calls after a cut share their prefix again.
The system prompt and the task always stay; the task message then says what was left out.
"""
from __future__ import annotations

import json
from typing import Any

from testbed.models.base import Message

OMITTED = ("\n\n[The harness left out steps {first}–{last} of this conversation (the oldest ones) "
           "to fit the model's context window.]")


class ContextWindow:
    def __init__(self, max_tokens: int | None, reserve: int = 0, keep: float = 0.5,
                 chars_per_token: float = 3.0):
        self.max_tokens = max_tokens
        self.reserve = reserve                # room for the reply
        self.keep = keep                      # after a cut, the history fills this share of the room
        self.chars_per_token = chars_per_token
        self.cut = 2                          # messages[2:cut] are left out
        self.cuts = 0

    def calibrate(self, sent_chars: int, prompt_tokens: int | None) -> None:
        """Learn the text-to-token ratio from what the server counted for the last request."""
        if prompt_tokens and sent_chars > 0:
            self.chars_per_token = min(6.0, max(1.5, sent_chars / prompt_tokens))

    def tighten(self) -> None:
        """The server said the prompt was too long: assume denser text from now on."""
        self.chars_per_token = max(1.0, self.chars_per_token * 0.7)

    def select(self, messages: list[Message]) -> list[Message]:
        if self.max_tokens is None or len(messages) <= 2:
            return list(messages)
        room = self.max_tokens - self.reserve - self.tokens(messages[:2]) - 64
        if self.tokens(messages[self.cut:]) > room:
            self._advance(messages, room)
        if self.cut <= 2:
            return list(messages)
        head = dict(messages[1])
        head["content"] = str(head.get("content", "")) + OMITTED.format(
            first=1, last=_steps_before(messages, self.cut))
        kept = [messages[0], head, *messages[self.cut:]]
        overflow = self.tokens(kept) - (self.max_tokens - self.reserve)
        return _shorten(kept, overflow, self.chars_per_token) if overflow > 0 else kept

    def tokens(self, messages: list[Message]) -> int:
        return int(sum(message_chars(m) for m in messages) / self.chars_per_token) + 4 * len(messages)

    def _advance(self, messages: list[Message], room: int) -> None:
        target = max(0, int(room * self.keep))
        starts = [i for i in range(max(self.cut, 3), len(messages)) if messages[i].get("role") == "assistant"]
        for i in starts:
            if self.tokens(messages[i:]) <= target:
                self.cut = i
                break
        else:
            self.cut = starts[-1] if starts else self.cut
        self.cuts += 1


def message_chars(m: Message) -> int:
    n = len(str(m.get("content") or ""))
    for call in m.get("tool_calls") or []:
        n += len(json.dumps(call.get("arguments", {}))) + len(call.get("name", "")) + 16
    return n


def _steps_before(messages: list[Message], cut: int) -> int:
    return max(1, sum(1 for m in messages[2:cut] if m.get("role") == "assistant"))


def _shorten(kept: list[Message], overflow_tokens: int, chars_per_token: float) -> list[Message]:
    """The rare case where even the newest exchange does not fit: shorten the longest tool or user
    messages after the task (middle cut, marked) until it does."""
    out = [dict(m) for m in kept]
    excess = int(overflow_tokens * chars_per_token) + 200
    for m in sorted(out[2:], key=lambda m: -len(str(m.get("content") or ""))):
        if excess <= 0:
            break
        text = str(m.get("content") or "")
        if m.get("role") not in ("tool", "user") or len(text) < 400:
            continue
        cut = min(len(text) - 200, excess)
        half = (len(text) - cut) // 2
        m["content"] = text[:half] + f"\n[… {cut} characters left out to fit the context window …]\n" + text[-half:]
        excess -= cut
    return out


def describe(window: ContextWindow) -> dict[str, Any]:
    return {"max_tokens": window.max_tokens, "reply_reserve": window.reserve, "keep_after_cut": window.keep}
