"""Printing ingredients and recipes."""
from __future__ import annotations

from recipes.ingredient import Ingredient
from recipes.recipe import Recipe


def format_ingredient(ing: Ingredient) -> str:
    return f"{ing.amount:g} {ing.unit} {ing.name}"


def format_recipe(recipe: Recipe) -> str:
    lines = [f"{recipe.title} (serves {recipe.servings})", ""]
    lines += [f"- {format_ingredient(i)}" for i in recipe.ingredients]
    return "\n".join(lines) + "\n"
