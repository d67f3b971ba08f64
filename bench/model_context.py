"""What the context policy costs a local model: the harness's policy (full history until the limit,
then one large cut that stays put) against a sliding window that always sends the newest messages
that fit, in the same run.

1. Counted, no server: over a 60-step conversation with tool outputs of random size, how many
   prompt characters each call sends that the previous call did not send as the same prefix (what
   llama.cpp must re-read; its cache keeps the longest common prefix).
2. Timed, the real llama.cpp server with SmolLM2-135M (`local-small`), 1 thread, n_ctx 2048: the
   same policies replayed as real requests (max_tokens=1, so the time is reading the prompt).
"""
from __future__ import annotations

import random
import statistics
import time
from typing import Any

from testbed.models.compatible import to_chat
from testbed.models.history import ContextWindow

STEPS = 60
SERVER_STEPS = 24


WORDS = ("def return assert tests intervals daterange overlaps start end FAILED passed self None "
         "if else for in range import from pytest error line file python True False merge").split()


def _output(rng: random.Random, size: int) -> str:
    """Text shaped like test output and source code (about 4 characters a token)."""
    lines, n = [], 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        lines.append(line)
        n += len(line) + 1
    return "\n".join(lines)[:size]


def conversation(steps: int, seed: int, lo: int, hi: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    msgs = [{"role": "system", "content": "You are a software engineer. " * 20},
            {"role": "user", "content": "Fix the failing tests of the intervals library. " * 4}]
    for i in range(1, steps + 1):
        msgs += [{"role": "assistant", "content": f"Step {i}: let me look again.",
                  "tool_calls": [{"id": f"c{i}", "name": "bash", "arguments": {"command": f"sed -n {i},+40p a.py"}}]},
                 {"role": "tool", "tool_call_id": f"c{i}", "name": "bash",
                  "content": _output(rng, rng.randint(lo, hi))},
                 {"role": "user", "content": f"Budget: {i} of {steps} steps used."}]
    return msgs


class Sliding:
    """The newest messages that fit (system prompt and task kept), recomputed every call."""

    def __init__(self, max_tokens: int, reserve: int, chars_per_token: float = 3.0):
        self.window = ContextWindow(max_tokens, reserve, chars_per_token=chars_per_token)

    def select(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        w = self.window
        room = w.max_tokens - w.reserve - w.tokens(messages[:2]) - 64
        starts = [i for i in range(2, len(messages)) if messages[i]["role"] == "assistant"]
        if not starts:
            return list(messages)
        for i in starts:
            if w.tokens(messages[i:]) <= room:
                return messages[:2] + messages[i:]
        return messages[:2] + messages[starts[-1]:]


def render(messages: list[dict[str, Any]]) -> str:
    return "".join(f"<{m['role']}>{m.get('content') or ''}{m.get('tool_calls') or ''}" for m in to_chat(messages))


def reread(policy: Any, convo: list[dict[str, Any]]) -> tuple[int, int, list[list[dict[str, Any]]]]:
    """(characters re-read over all calls, characters sent, the requests)."""
    prev, total, sent, requests = "", 0, 0, []
    for n in range(3, len(convo) + 1, 3):  # one call per step: after each step's messages
        msgs = policy.select(convo[:n - 1])
        requests.append(msgs)
        text = render(msgs)
        common = 0
        for a, b in zip(prev, text):
            if a != b:
                break
            common += 1
        total += len(text) - common
        sent += len(text)
        prev = text
    return total, sent, requests


def timed(requests: list[list[dict[str, Any]]], base_url: str) -> list[float]:
    from openai import OpenAI
    client = OpenAI(api_key="not-needed", base_url=base_url, max_retries=0, timeout=600)
    times = []
    for msgs in requests:
        t0 = time.perf_counter()
        client.chat.completions.create(model="local-small", messages=to_chat(msgs), max_tokens=1, temperature=0)
        times.append(time.perf_counter() - t0)
    return times


def run() -> dict:
    convo = conversation(STEPS, seed=1, lo=300, hi=4000)
    ours_chars, ours_sent, _ = reread(ContextWindow(8192, 768), convo)
    slide_chars, slide_sent, _ = reread(Sliding(8192, 768), convo)
    ratio = ours_chars / slide_chars
    print(f"  counted, {STEPS} steps, n_ctx 8192: re-read {ours_chars:,} chars (harness) vs "
          f"{slide_chars:,} (sliding window); ratio {ratio:.3f}; sent {ours_sent:,} vs {slide_sent:,}")
    t0 = time.perf_counter()
    w = ContextWindow(8192, 768)
    for n in range(3, len(convo) + 1, 3):
        w.select(convo[:n - 1])
    select_ms = (time.perf_counter() - t0) * 1000 / (len(convo) // 3)

    result: dict[str, Any] = {"reread_chars_harness": ours_chars, "reread_chars_sliding": slide_chars,
                              "reread_ratio": round(ratio, 4), "select_ms_mean": round(select_ms, 3)}
    targets = [
        {"name": "prompt re-read, harness / sliding window (counted)", "value": f"{ratio:.3f}",
         "target": "<= 0.35", "met": ratio <= 0.35},
        {"name": "context selection per call", "value": f"{select_ms:.2f} ms", "target": "<= 5 ms",
         "met": select_ms <= 5},
    ]

    from testbed.models import assets
    from testbed.models.local import LlamaServer
    path = assets.ready("local-small")
    if path is None:
        print("  (local-small not set up: the timed part is skipped; run `make setup-test`)")
    else:
        small = conversation(SERVER_STEPS, seed=2, lo=200, hi=1500)
        _, _, ours_req = reread(ContextWindow(2048, 64), small)
        _, _, slide_req = reread(Sliding(2048, 64), small)
        server = LlamaServer(path, n_ctx=2048, threads=1, alias="local-small")
        server.start()
        try:
            timed(ours_req[:1], server.base_url)  # warm-up
            t_slide = timed(slide_req, server.base_url)
            timed(ours_req[:1], server.base_url)  # the cache now holds an unrelated prompt for both
            t_ours = timed(ours_req, server.base_url)
        finally:
            server.stop()
        tail = SERVER_STEPS // 2  # once the conversation no longer fits
        ours_s, slide_s = sum(t_ours[tail:]), sum(t_slide[tail:])
        t_ratio = ours_s / slide_s
        print(f"  timed, local-small, n_ctx 2048, calls {tail + 1}-{SERVER_STEPS}: {ours_s:.1f} s (harness) vs "
              f"{slide_s:.1f} s (sliding window); ratio {t_ratio:.3f}; median call "
              f"{statistics.median(t_ours[tail:]):.2f} s vs {statistics.median(t_slide[tail:]):.2f} s")
        result.update({"timed_harness_s": round(ours_s, 2), "timed_sliding_s": round(slide_s, 2),
                       "timed_ratio": round(t_ratio, 4)})
        targets.append({"name": "prompt time, harness / sliding window (real server)",
                        "value": f"{t_ratio:.3f}", "target": "<= 0.5", "met": t_ratio <= 0.5})
    result["targets"] = targets
    return result
