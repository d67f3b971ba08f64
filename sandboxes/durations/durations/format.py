"""Formatting a timedelta as the shortest `1h30m`-style string."""
from __future__ import annotations

from datetime import timedelta

from durations.units import UNITS


def format_duration(value: timedelta) -> str:
    if value < timedelta(0):
        raise ValueError("negative durations cannot be formatted")
    if not value:
        return "0s"
    rest = value
    parts = []
    for unit, size in UNITS.items():
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
