from decimal import Decimal

from ledger import format_amount


def test_thousands_and_cents():
    assert format_amount(Decimal("1234.5")) == "1,234.50"
    assert format_amount(Decimal("1000000")) == "1,000,000.00"


def test_small_and_negative():
    assert format_amount(Decimal("0.07")) == "0.07"
    assert format_amount(Decimal("-12.3")) == "-12.30"
