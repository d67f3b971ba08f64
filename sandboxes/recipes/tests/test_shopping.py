from fractions import Fraction

from recipes import Ingredient, parse_recipe, shopping_list
from recipes.quantity import Quantity

BREAD = parse_recipe("Bread", 1, ["500 g flour", "1 tsp salt", "300 ml water"])
CAKE = parse_recipe("Cake", 8, ["1 kg flour", "2 tbsp butter", "0.1 l milk", "4 pc eggs"])
PANCAKES = parse_recipe("Pancakes", 4, ["250 g flour", "0.2 l milk", "2 pc eggs", "50 g butter"])


def test_same_ingredient_in_compatible_units_is_merged():
    items = {(i.name, i.quantity.unit): i.quantity for i in shopping_list([BREAD, CAKE, PANCAKES])}
    assert items[("flour", "kg")] == Quantity(Fraction(7, 4), "kg")
    assert items[("milk", "l")] == Quantity(Fraction(3, 10), "l")
    assert items[("eggs", "pc")] == Quantity(6, "pc")


def test_incompatible_units_stay_separate_and_the_list_is_sorted():
    items = shopping_list([BREAD, CAKE, PANCAKES])
    assert [(i.name, str(i.quantity)) for i in items] == [
        ("butter", "50 g"), ("butter", "2 tbsp"), ("eggs", "6 pc"), ("flour", "1.75 kg"),
        ("milk", "0.3 l"), ("salt", "1 tsp"), ("water", "300 ml"),
    ]


def test_empty():
    assert shopping_list([]) == []
    assert shopping_list([parse_recipe("Nothing", 1, [])]) == []


def test_items_are_ingredients():
    assert all(isinstance(i, Ingredient) for i in shopping_list([BREAD]))
