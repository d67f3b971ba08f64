"""One shopping list for several recipes."""
from __future__ import annotations

from recipes.ingredient import Ingredient
from recipes.recipe import Recipe
from recipes.render import format_ingredient


def shopping_list(recipes: list[Recipe]) -> list[Ingredient]:
    """All ingredients, the same ingredient in the same unit added up, sorted by name."""
    totals: dict[tuple[str, str], float] = {}
    for recipe in recipes:
        for ing in recipe.ingredients:
            key = (ing.name, ing.unit)
            totals[key] = totals.get(key, 0.0) + ing.amount
    return [Ingredient(name, amount, unit) for (name, unit), amount in sorted(totals.items())]


def as_checklist(items: list[Ingredient]) -> str:
    """The list as the app's printable checklist."""
    return "".join(f"[ ] {format_ingredient(item)}\n" for item in items)
