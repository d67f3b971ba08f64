from fractions import Fraction

import pytest

from recipes import parse_recipe
from recipes.quantity import Quantity

RISOTTO = parse_recipe("Risotto", 3, ["1 cup rice", "1 l stock", "60 g parmesan", "1 pc onion"])


def test_scaling_is_exact():
    for_two = RISOTTO.scaled(2)
    assert [i.quantity for i in for_two.ingredients] == [
        Quantity(Fraction(2, 3), "cup"), Quantity(Fraction(2, 3), "l"), Quantity(40, "g"),
        Quantity(Fraction(2, 3), "pc")]
    assert for_two.servings == 2


def test_scaling_there_and_back_is_the_identity():
    assert RISOTTO.scaled(7).scaled(3) == RISOTTO


def test_bad_servings():
    with pytest.raises(ValueError):
        RISOTTO.scaled(0)
