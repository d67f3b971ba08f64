"""Keeping the head and the tail of long command output, and saying what was cut."""
from __future__ import annotations

HEAD_BYTES = 8_000
TAIL_BYTES = 8_000


def cut_marker(omitted: int) -> str:
    return f"\n[... {omitted} bytes of output omitted ...]\n"


def head_tail(data: bytes, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> tuple[str, bool]:
    """Return (text, truncated): all of `data` if it fits, else its head and tail around a marker."""
    if len(data) <= head + tail:
        return data.decode("utf-8", errors="replace"), False
    text = (data[:head].decode("utf-8", errors="replace") + cut_marker(len(data) - head - tail)
            + data[-tail:].decode("utf-8", errors="replace"))
    return text, True
