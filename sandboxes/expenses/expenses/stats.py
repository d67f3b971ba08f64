"""Small statistics over bookings."""
from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from expenses.reader import Booking

CENT = Decimal("0.01")


def mean(values: list[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(CENT, rounding=ROUND_HALF_UP)


def monthly_totals(bookings: Iterable[Booking]) -> dict[str, Decimal]:
    """Spending (as a positive amount) per month `YYYY-MM`; income is ignored."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for b in bookings:
        if b.amount < 0:
            totals[b.day.strftime("%Y-%m")] += -b.amount
    return dict(totals)
