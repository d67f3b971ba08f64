"""Ingredient lines as people type them: `1 1/2 cups flour`, `250 g butter`, `0.5 l milk`."""
from __future__ import annotations

import re

from recipes.ingredient import Ingredient, normalise_name
from recipes.units import unit_name

_LINE = re.compile(r"^\s*(?P<amount>\d+\s+\d+/\d+|\d+/\d+|\d+(?:\.\d+)?)\s+(?P<unit>\S+)\s+(?P<name>.+?)\s*$")


def parse_amount(text: str) -> float:
    """`2`, `0.5`, `1/2` or `1 1/2`."""
    total = 0.0
    for part in text.split():
        if "/" in part:
            num, den = part.split("/")
            if int(den) == 0:
                raise ValueError(f"bad fraction {part!r}")
            total += int(num) / int(den)
        else:
            total += float(part)
    return total


def parse_line(line: str) -> Ingredient:
    match = _LINE.match(line)
    if not match:
        raise ValueError(f"cannot read ingredient line {line!r} (expected AMOUNT UNIT NAME)")
    return Ingredient(normalise_name(match["name"]), parse_amount(match["amount"]),
                      unit_name(match["unit"]))


def parse_lines(text: str) -> list[Ingredient]:
    """One ingredient per line; blank lines and `#` comments are skipped."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return [parse_line(line) for line in lines if line.strip()]
