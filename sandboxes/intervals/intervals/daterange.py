"""Inclusive date ranges: both `start` and `end` are days inside the range."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterator

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")

    def days(self) -> int:
        """Number of days in the range, counting both ends."""
        return (self.end - self.start).days + 1

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: "DateRange") -> bool:
        """True when the two ranges share at least one day."""
        return self.start < other.end and other.start < self.end

    def iter_days(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += ONE_DAY

    def weeks(self) -> list["DateRange"]:
        """Split into consecutive chunks of at most seven days."""
        chunks = []
        start = self.start
        while start <= self.end:
            end = min(start + timedelta(days=6), self.end)
            chunks.append(DateRange(start, end))
            start = end + ONE_DAY
        return chunks


def merge(ranges: list[DateRange]) -> list[DateRange]:
    """Merge overlapping or adjacent ranges into the fewest ranges covering the same days."""
    out: list[DateRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if out and (out[-1].overlaps(r) or out[-1].end + ONE_DAY == r.start):
            out[-1] = DateRange(out[-1].start, max(out[-1].end, r.end))
        else:
            out.append(r)
    return out
