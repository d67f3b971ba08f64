from decimal import Decimal

import pytest

from ledger import Invoice, Line


def test_line_net_is_quantity_times_price():
    assert Line("Filter papers", 3, Decimal("2.15")).net == Decimal("6.45")


def test_line_rejects_bad_input():
    with pytest.raises(ValueError):
        Line("Nothing", 0, Decimal("1.00"))
    with pytest.raises(ValueError):
        Line("Caviar", 1, Decimal("99.00"), "luxury")


def test_vat_is_computed_per_rate_on_the_net_sum():
    inv = Invoice([
        Line("Coffee beans 250 g", 2, Decimal("8.50"), "reduced"),  # 17.00 at 7 %
        Line("Espresso cups", 2, Decimal("4.50")),                  #  9.00 at 19 %
        Line("Descaler", 1, Decimal("4.50")),                       #  4.50 at 19 %
    ])
    assert inv.net_by_rate() == {"reduced": Decimal("17.00"), "standard": Decimal("13.50")}
    assert inv.vat_by_rate() == {"reduced": Decimal("1.19"), "standard": Decimal("2.57")}
    assert inv.net_total() == Decimal("30.50")
    assert inv.vat_total() == Decimal("3.76")
    assert inv.gross_total() == Decimal("34.26")


def test_readme_example():
    inv = Invoice([Line("Espresso cups", 2, Decimal("4.50"), "standard")])
    assert str(inv.gross_total()) == "10.71"


def test_empty_invoice():
    inv = Invoice()
    assert inv.gross_total() == Decimal("0.00")
