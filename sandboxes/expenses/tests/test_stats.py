from datetime import date
from decimal import Decimal

from expenses import Booking, mean, monthly_totals


def test_mean_rounds_half_up_to_the_cent():
    assert mean([Decimal("1.00"), Decimal("2.00"), Decimal("2.00")]) == Decimal("1.67")
    assert mean([Decimal("0.125")]) == Decimal("0.13")


def test_monthly_totals_count_spending_only():
    bookings = [Booking(date(2024, 1, 3), "food", Decimal("-10.00")),
                Booking(date(2024, 1, 9), "food", Decimal("-5.50")),
                Booking(date(2024, 1, 9), "salary", Decimal("1000")),
                Booking(date(2024, 2, 1), "food", Decimal("-7.25"))]
    assert monthly_totals(bookings) == {"2024-01": Decimal("15.50"), "2024-02": Decimal("7.25")}
