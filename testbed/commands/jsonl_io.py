"""Reading and writing JSONL for the `classify` verbs: one output line per input line, in order;
a bad input line is one clear error naming its line number (lines already written stay written)."""
from __future__ import annotations

import json
import sys
from typing import IO, Any, Iterator


class JsonlInputError(ValueError):
    pass


def open_input(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise JsonlInputError(f"cannot read {path}: {exc.strerror}") from None


def iter_objects(fh: IO[str], name: str, required: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line_no, object) for each non-empty line; each object must have string `required`."""
    for line_no, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JsonlInputError(f"{name}:{line_no}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise JsonlInputError(f"{name}:{line_no}: expected a JSON object")
        if not isinstance(obj.get(required), str):
            raise JsonlInputError(f"{name}:{line_no}: missing string field {required!r}")
        yield line_no, obj


def emit(obj: dict[str, Any], out: IO[str] = sys.stdout) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
