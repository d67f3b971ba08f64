import pytest

from splitbill import Money


def test_parse_and_print():
    assert Money.parse("12.5").cents == 1250
    assert str(Money.parse("0.07")) == "0.07"
    assert str(Money.parse("-3.10")) == "-3.10"


def test_rejects_fractions_of_a_cent():
    with pytest.raises(ValueError):
        Money.parse("1.005")


def test_arithmetic_and_equality():
    assert Money.parse("33.33") + Money.parse("0.01") == Money.parse("33.34")
    assert Money.parse("33.33") != Money.parse("33.34")
    assert sum([Money(1), Money(2)]) == Money(3)
    assert Money(5) > Money(4)
