"""Traffic statistics."""
from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from typing import Iterable

from accesslog.records import Record
from accesslog.timeparse import hour_of


def requests_per_hour(records: Iterable[Record]) -> dict[datetime, int]:
    counts = Counter(hour_of(r.time) for r in records)
    return dict(sorted(counts.items()))


def error_rate(records: list[Record]) -> float:
    """Share of requests answered with a 5xx status."""
    if not records:
        return 0.0
    return sum(r.status >= 500 for r in records) / len(records)


def percentile(records: list[Record], p: float) -> int:
    """The nearest-rank `p`-th percentile of the durations (ms)."""
    if not records or not 0 < p <= 100:
        raise ValueError("need records and 0 < p <= 100")
    durations = sorted(r.duration_ms for r in records)
    return durations[math.ceil(p / 100 * len(durations)) - 1]
