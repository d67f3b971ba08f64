"""Recipes and scaling them to a number of servings."""
from __future__ import annotations

from dataclasses import dataclass, field

from recipes.ingredient import Ingredient
from recipes.parse import parse_line


@dataclass(frozen=True)
class Recipe:
    title: str
    servings: int
    ingredients: list[Ingredient] = field(default_factory=list)

    def scaled(self, servings: int) -> "Recipe":
        if servings < 1:
            raise ValueError("servings must be at least 1")
        factor = servings / self.servings
        return Recipe(self.title, servings, [i.scaled(factor) for i in self.ingredients])


def parse_recipe(title: str, servings: int, lines: list[str]) -> Recipe:
    return Recipe(title, servings, [parse_line(line) for line in lines])
