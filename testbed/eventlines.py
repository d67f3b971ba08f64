"""What counts as a good line of `events.jsonl`: one rule for every reader (the pydantic reader in
testbed.log, the fast reader of the analysis, the replay's follower).

A line is good when it is UTF-8, one JSON object, and carries the common header (`v` an integer,
`run_id` and `type` strings; `seq` an integer and `ts` a string where present). A good line of a type this version
does not know is skipped, not an error: a newer writer may add event types. Anything else is a bad
line; a bad *last* line without a newline is a torn tail (a crash mid-write) and is skipped.
Standard library only (the analysis package imports it).
"""
from __future__ import annotations

import json
from typing import Any

EVENT_TYPES = ("run_started", "step", "tests", "truth", "notice", "error", "run_finished")


class BadLine(ValueError):
    pass


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine(f"not UTF-8 (byte {exc.start})") from None


def header_error(obj: Any) -> str | None:
    """Why a parsed line is not an event (None when it is one, of any type)."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    for key, kind, required in (("v", int, True), ("run_id", str, True), ("type", str, True),
                                ("seq", int, False), ("ts", str, False)):
        if key not in obj and not required:
            continue
        value = obj.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"missing or malformed '{key}'"
    return None


def parse(raw: bytes | str) -> dict[str, Any] | None:
    """The event of one line, None for a good line of an unknown type; BadLine otherwise."""
    text = decode(raw) if isinstance(raw, bytes) else raw
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    err = header_error(obj)
    if err:
        raise BadLine(err)
    return obj if obj["type"] in EVENT_TYPES else None
