"""Per-category summaries of a bank export."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from expenses.reader import Booking, read_bookings
from expenses.stats import mean, monthly_totals


@dataclass(frozen=True)
class CategorySummary:
    category: str
    total: Decimal
    months: int
    monthly_average: Decimal


def summarize(path: str | Path) -> dict[str, CategorySummary]:
    """Spending per category: total, number of months with spending, and the monthly average."""
    by_category: dict[str, list[Booking]] = defaultdict(list)
    for booking in read_bookings(path):
        by_category[booking.category].append(booking)
    out = {}
    for category, bookings in sorted(by_category.items()):
        months = monthly_totals(bookings)
        if not months:
            continue  # income only
        out[category] = CategorySummary(category, sum(months.values(), Decimal(0)), len(months),
                                        mean(list(months.values())))
    return out


def overall_monthly_average(path: str | Path) -> Decimal:
    """Average spending per month over all categories."""
    return mean(list(monthly_totals(read_bookings(path)).values()))
