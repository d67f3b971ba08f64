"""One customer's subscription: trial, paid periods, renewal and cancellation."""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from subscriptions.clock import Clock, SystemClock, utcnow
from subscriptions.plans import Plan


def add_months(start: datetime, months: int) -> datetime:
    """Same day of the month `months` later, clamped to the month's last day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


class Subscription:
    def __init__(self, customer: str, plan: Plan, clock: Clock | None = None,
                 started: datetime | None = None) -> None:
        self.customer = customer
        self.plan = plan
        self.clock = clock or SystemClock()
        self.started = started or utcnow()
        self.cancelled_at: datetime | None = None
        self.active_until: datetime | None = None

    @property
    def trial_ends(self) -> datetime:
        return self.started + timedelta(days=self.plan.trial_days)

    def in_trial(self) -> bool:
        return self.clock.now() < self.trial_ends

    def renewals(self, count: int) -> list[datetime]:
        """The first `count` renewal dates: one period after the trial, then every period."""
        anchor = self.trial_ends
        return [add_months(anchor, self.plan.months * n) for n in range(1, count + 1)]

    def next_renewal(self) -> datetime | None:
        """The next renewal after now, or None once the subscription is cancelled."""
        if self.cancelled_at is not None:
            return None
        now = self.clock.now()
        n = 1
        while True:
            date = add_months(self.trial_ends, self.plan.months * n)
            if date > now:
                return date
            n += 1

    def cancel(self) -> datetime:
        """Cancel now; the subscription stays active until the end of the current period (or
        of the trial). Returns when it ends."""
        now = self.clock.now()
        ends = self.trial_ends if now < self.trial_ends else self.next_renewal()
        self.cancelled_at = now
        self.active_until = ends
        return ends
