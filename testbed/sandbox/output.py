"""Long command output keeps its head and tail; the marker says how much was cut."""
from __future__ import annotations

HEAD_BYTES = 8_000
TAIL_BYTES = 8_000


def cut_marker(omitted: int) -> str:
    return f"\n[... {omitted} bytes of output omitted ...]\n"



def head_tail(raw: bytes) -> tuple[str, bool]:
    """Text of `raw` cut to its head and tail when longer than both together; (text, was cut)."""
    if len(raw) <= HEAD_BYTES + TAIL_BYTES:
        return raw.decode("utf-8", "replace"), False
    return (raw[:HEAD_BYTES].decode("utf-8", "replace") + cut_marker(len(raw) - HEAD_BYTES - TAIL_BYTES)
            + raw[-TAIL_BYTES:].decode("utf-8", "replace")), True
