"""Raw terminal bytes → key names ("left", "pgdn", "a", "enter", …).

Handles CSI and SS3 sequences (normal and application cursor mode), and an escape sequence split
across two reads (`KeyDecoder` keeps an incomplete one until the rest arrives or `flush()`).
"""
from __future__ import annotations

SEQUENCES = {
    "[A": "up", "[B": "down", "[C": "right", "[D": "left",
    "OA": "up", "OB": "down", "OC": "right", "OD": "left",
    "[H": "home", "[F": "end", "OH": "home", "OF": "end",
    "[1~": "home", "[7~": "home", "[4~": "end", "[8~": "end",
    "[5~": "pgup", "[6~": "pgdn", "[3~": "delete", "[2~": "insert",
}
CONTROL = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\x08": "backspace",
           "\x03": "ctrl-c", "\x04": "ctrl-d", "\x0c": "ctrl-l", "\x15": "ctrl-u"}


class KeyDecoder:
    def __init__(self) -> None:
        self._buf = ""

    def feed(self, data: bytes | str) -> list[str]:
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        self._buf += data
        keys: list[str] = []
        buf = self._buf
        i = 0
        while i < len(buf):
            ch = buf[i]
            if ch != "\x1b":
                keys.append(CONTROL.get(ch, ch))
                i += 1
                continue
            rest = buf[i + 1:]
            if not rest:
                break  # maybe the start of a sequence: wait for more (or flush)
            if rest[0] in "[O":
                end = _sequence_end(rest)
                if end is None:
                    break
                seq = rest[:end]
                keys.append(SEQUENCES.get(seq, "unknown"))
                i += 1 + end
                continue
            keys.append("escape")  # ESC followed by a normal key (alt-key): treat as escape
            i += 1
        self._buf = buf[i:]
        return keys

    def pending(self) -> bool:
        return bool(self._buf)

    def flush(self) -> list[str]:
        """What is left after a pause: a lone ESC is the escape key."""
        keys = ["escape"] if self._buf.startswith("\x1b") else []
        rest = self._buf[1:] if keys else self._buf
        self._buf = ""
        return keys + (self.feed(rest) if rest else [])


def _sequence_end(rest: str) -> int | None:
    """Length of the escape sequence after ESC (including its '[' or 'O'), or None if incomplete."""
    if rest[0] == "O":
        return 2 if len(rest) >= 2 else None
    for j in range(1, len(rest)):
        if "\x40" <= rest[j] <= "\x7e":  # a CSI final byte
            return j + 1
    return None
