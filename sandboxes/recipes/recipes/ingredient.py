"""One line of a recipe."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ingredient:
    name: str
    amount: float
    unit: str

    def scaled(self, factor: float) -> "Ingredient":
        return Ingredient(self.name, self.amount * factor, self.unit)


def normalise_name(name: str) -> str:
    """How ingredient names are compared and shown: `  Whole  Milk ` → `whole milk`."""
    return " ".join(name.lower().split())
