"""Long command output keeps its head and tail; the marker says how much was cut."""
from __future__ import annotations

HEAD_BYTES = 8_000
TAIL_BYTES = 8_000


def cut_marker(omitted: int) -> str:
    return f"\n[... {omitted} bytes of output omitted ...]\n"

