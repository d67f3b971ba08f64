"""Log lines."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from accesslog.timeparse import parse_timestamp

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class LogFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Record:
    time: datetime
    method: str
    path: str
    status: int
    duration_ms: int


def parse_line(line: str) -> Record:
    """`TIMESTAMP METHOD PATH STATUS DURATION_MS`; the timestamp itself may contain one space."""
    parts = line.split()
    if len(parts) == 6:  # "2024-03-05 10:15:00Z GET ..."
        parts = [parts[0] + " " + parts[1]] + parts[2:]
    if len(parts) != 5:
        raise LogFormatError(f"expected 5 fields: {line!r}")
    stamp, method, path, status, duration = parts
    if method not in METHODS:
        raise LogFormatError(f"unknown method {method!r}: {line!r}")
    try:
        return Record(parse_timestamp(stamp), method, path, int(status), int(duration))
    except ValueError as exc:
        raise LogFormatError(f"{exc}: {line!r}") from None


def read_log(path: str | Path) -> list[Record]:
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                records.append(parse_line(line))
    return records
