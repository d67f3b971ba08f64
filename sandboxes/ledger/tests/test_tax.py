from decimal import Decimal

import pytest

from ledger import gross, vat


def test_standard_rate_on_round_amounts():
    assert vat(Decimal("100.00")) == Decimal("19.00")
    assert vat(Decimal("10.00"), "reduced") == Decimal("0.70")


def test_zero_rate():
    assert vat(Decimal("59.90"), "zero") == Decimal("0.00")


@pytest.mark.parametrize("net, expected", [
    ("0.10", "0.02"),    # 0.019
    ("1.99", "0.38"),    # 0.3781
    ("2.50", "0.48"),    # 0.475: exactly half a cent, rounds up
    ("13.50", "2.57"),   # 2.565
    ("27.50", "5.23"),   # 5.225
], ids=["0.10", "1.99", "2.50", "13.50", "27.50"])
def test_standard_rate_rounds_half_up(net, expected):
    assert vat(Decimal(net)) == Decimal(expected)


def test_unknown_rate():
    with pytest.raises(KeyError):
        vat(Decimal("1.00"), "luxury")


def test_gross_adds_the_vat():
    assert gross(Decimal("50.00"), "reduced") == Decimal("53.50")
