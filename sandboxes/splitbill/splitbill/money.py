"""Money as a whole number of cents."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_AMOUNT = re.compile(r"^(-)?(\d+)(?:\.(\d{1,2}))?$")


@total_ordering
@dataclass(frozen=True)
class Money:
    cents: int

    @classmethod
    def parse(cls, text: str) -> "Money":
        match = _AMOUNT.match(text.strip())
        if not match:
            raise ValueError(f"not an amount: {text!r}")
        sign, whole, frac = match.groups()
        cents = int(whole) * 100 + int((frac or "0").ljust(2, "0"))
        return cls(-cents if sign else cents)

    def __str__(self) -> str:
        sign = "-" if self.cents < 0 else ""
        whole, cents = divmod(abs(self.cents), 100)
        return f"{sign}{whole}.{cents:02d}"

    def __add__(self, other: "Money") -> "Money":
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.cents + other.cents)

    def __radd__(self, other: object) -> "Money":
        if other == 0:  # so that sum() works
            return self
        return NotImplemented

    def __sub__(self, other: "Money") -> "Money":
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.cents - other.cents)

    def __lt__(self, other: "Money") -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.cents < other.cents
