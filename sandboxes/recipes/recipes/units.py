"""Units: each belongs to a dimension and has a size in that dimension's base unit."""
from __future__ import annotations


class UnknownUnit(ValueError):
    pass


# name: (dimension, size in the base unit: g, ml or pieces)
UNITS = {
    "g": ("mass", 1.0),
    "kg": ("mass", 1000.0),
    "ml": ("volume", 1.0),
    "l": ("volume", 1000.0),
    "tsp": ("volume", 5.0),
    "tbsp": ("volume", 15.0),
    "cup": ("volume", 240.0),
    "pc": ("count", 1.0),
}

ALIASES = {
    "gram": "g", "grams": "g", "kilogram": "kg", "kilograms": "kg",
    "millilitre": "ml", "milliliter": "ml", "litre": "l", "liter": "l", "litres": "l", "liters": "l",
    "teaspoon": "tsp", "teaspoons": "tsp", "tablespoon": "tbsp", "tablespoons": "tbsp",
    "cups": "cup", "piece": "pc", "pieces": "pc", "pcs": "pc",
}


def unit_name(text: str) -> str:
    """The canonical name of a unit as people write it (`cups` → `cup`)."""
    key = text.strip().lower()
    key = ALIASES.get(key, key)
    if key not in UNITS:
        raise UnknownUnit(f"unknown unit {text!r}")
    return key


def convert(amount: float, from_unit: str, to_unit: str) -> float:
    src, dst = UNITS[unit_name(from_unit)], UNITS[unit_name(to_unit)]
    if src[0] != dst[0]:
        raise ValueError(f"cannot convert {from_unit} ({src[0]}) to {to_unit} ({dst[0]})")
    return amount * src[1] / dst[1]


def dimension(unit: str) -> str:
    return UNITS[unit_name(unit)][0]
