from fractions import Fraction

import pytest

from recipes.quantity import IncompatibleUnits, Quantity
from recipes.units import UnknownUnit


def test_construction_is_canonical_and_exact():
    q = Quantity(2, "cups")
    assert q == Quantity(Fraction(2), "cup")
    assert isinstance(q.amount, Fraction) and q.unit == "cup"


def test_negative_amounts_and_unknown_units_are_rejected():
    with pytest.raises(ValueError):
        Quantity(-1, "g")
    with pytest.raises(UnknownUnit):
        Quantity(1, "handful")


@pytest.mark.parametrize("text, amount, unit", [
    ("1 1/2 cups", Fraction(3, 2), "cup"),
    ("1/4 tsp", Fraction(1, 4), "tsp"),
    ("0.1 l", Fraction(1, 10), "l"),
    ("250 grams", Fraction(250), "g"),
    ("2 tablespoons", Fraction(2), "tbsp"),
], ids=["mixed", "fraction", "decimal", "alias", "plural-alias"])
def test_parse(text, amount, unit):
    assert Quantity.parse(text) == Quantity(amount, unit)


@pytest.mark.parametrize("bad", ["", "cups", "1/0 cup", "one cup", "1 1/2"])
def test_parse_rejects(bad):
    with pytest.raises(ValueError):
        Quantity.parse(bad)


@pytest.mark.parametrize("quantity, text", [
    (Quantity(Fraction(3, 2), "cup"), "1 1/2 cups"),
    (Quantity(1, "cup"), "1 cup"),
    (Quantity(Fraction(2, 3), "cup"), "2/3 cup"),
    (Quantity(Fraction(1, 4), "tsp"), "1/4 tsp"),
    (Quantity(3, "pc"), "3 pc"),
    (Quantity(250, "g"), "250 g"),
    (Quantity(Fraction(3, 2), "kg"), "1.5 kg"),
    (Quantity(Fraction(3, 10), "l"), "0.3 l"),
    (Quantity(Fraction(1000, 3), "g"), "333 1/3 g"),
], ids=["mixed-cups", "one-cup", "two-thirds", "quarter-tsp", "pieces", "grams", "kg-decimal",
        "litre-decimal", "grams-fraction"])
def test_str(quantity, text):
    assert str(quantity) == text


def test_convert():
    assert Quantity(Fraction(1, 2), "l").to("ml") == Quantity(500, "ml")
    assert Quantity(1, "cup").to("tbsp") == Quantity(16, "tbsp")
    with pytest.raises(IncompatibleUnits):
        Quantity(1, "cup").to("g")


def test_multiply_exactly():
    assert Quantity(Fraction(1, 3), "cup") * 3 == Quantity(1, "cup")
    assert Fraction(2, 3) * Quantity(Fraction(3, 2), "cup") == Quantity(1, "cup")


def test_add_in_the_larger_unit():
    assert Quantity(500, "g") + Quantity(1, "kg") == Quantity(Fraction(3, 2), "kg")
    assert Quantity(1, "cup") + Quantity(2, "tbsp") == Quantity(Fraction(9, 8), "cup")
    assert Quantity(Fraction(1, 10), "l") + Quantity(Fraction(2, 10), "l") == Quantity(Fraction(3, 10), "l")


def test_add_incompatible():
    with pytest.raises(IncompatibleUnits):
        Quantity(1, "cup") + Quantity(100, "g")
