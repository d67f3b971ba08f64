from fractions import Fraction

import pytest

from recipes import Ingredient, parse_line
from recipes.quantity import Quantity


def test_parse_line():
    assert parse_line("1 1/2 cups Flour") == Ingredient("flour", Quantity(Fraction(3, 2), "cup"))
    assert parse_line("  0.5 l whole milk ") == Ingredient("whole milk", Quantity(Fraction(1, 2), "l"))


@pytest.mark.parametrize("bad", ["flour", "2 flour", "1/0 cup sugar", "2 handfuls nuts"])
def test_bad_lines(bad):
    with pytest.raises(ValueError):
        parse_line(bad)
