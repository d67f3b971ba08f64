from fractions import Fraction

import pytest

from recipes import UnknownUnit, convert, unit_name


def test_aliases():
    assert unit_name("Cups") == "cup" and unit_name("litres") == "l" and unit_name("g") == "g"
    with pytest.raises(UnknownUnit):
        unit_name("pinch")


def test_convert_is_exact():
    assert convert(Fraction(1, 3), "cup", "ml") == 80
    assert convert(Fraction(1, 10), "l", "ml") == 100
    assert isinstance(convert(1, "kg", "g"), Fraction)
    with pytest.raises(ValueError):
        convert(1, "cup", "g")
