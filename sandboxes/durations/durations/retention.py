"""How long a backup is kept: `keep = "..."` in the backup configuration."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from durations.parse import parse_duration


@dataclass(frozen=True)
class RetentionPolicy:
    keep: str

    @property
    def period(self) -> timedelta:
        return parse_duration(self.keep)

    def expires(self, created: date) -> date:
        """The first day on which a backup made on `created` may be deleted."""
        end = datetime.combine(created, datetime.min.time()) + self.period
        return end.date() if end.time() == datetime.min.time() else end.date() + timedelta(days=1)

    def expired(self, created: date, today: date) -> bool:
        return today >= self.expires(created)
