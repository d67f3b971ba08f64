"""Parsing `1h30m`-style durations."""
from __future__ import annotations

import re
from datetime import timedelta

from durations.units import UNITS


class DurationError(ValueError):
    pass


_PART = re.compile(r"\s*(\d+)\s*(" + "|".join(UNITS) + r")")
_ORDER = list(UNITS)


def parse_duration(text: str) -> timedelta:
    """Parse `text` into a timedelta.

    A duration is one or more `NUMBER UNIT` parts (`2h`, `1h30m`, `1h 30m`), each unit at most
    once and larger units first. Raises DurationError for anything else.
    """
    pos, total, last = 0, timedelta(), -1
    text = text.strip()
    if not text:
        raise DurationError("empty duration")
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match:
            raise DurationError(f"cannot parse {text[pos:]!r} in {text!r}")
        number, unit = match.groups()
        rank = _ORDER.index(unit)
        if rank <= last:
            raise DurationError(f"unit {unit!r} repeated or out of order in {text!r}")
        total += int(number) * UNITS[unit]
        last, pos = rank, match.end()
    return total
