from recipes.ingredient import Ingredient
from recipes.parse import parse_line
from recipes.recipe import Recipe, parse_recipe
from recipes.render import format_ingredient, format_recipe
from recipes.shopping import shopping_list
from recipes.units import UnknownUnit, convert, unit_name

__all__ = ["Ingredient", "Recipe", "UnknownUnit", "convert", "format_ingredient", "format_recipe",
           "parse_line", "parse_recipe", "shopping_list", "unit_name"]
