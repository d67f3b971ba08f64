from recipes import format_ingredient, format_recipe, parse_line, parse_recipe


def test_format_ingredient():
    assert format_ingredient(parse_line("1 1/2 cups flour")) == "1 1/2 cups flour"
    assert format_ingredient(parse_line("0.25 l milk")) == "0.25 l milk"


def test_format_recipe_scaled():
    recipe = parse_recipe("Rice", 3, ["1 cup rice", "1 pc onion"]).scaled(2)
    assert format_recipe(recipe) == "Rice (serves 2)\n\n- 2/3 cup rice\n- 2/3 pc onion\n"
