"""A bill: items, a tip, and who pays what."""
from __future__ import annotations

from dataclasses import dataclass, field

from splitbill.money import Money
from splitbill.split import split_evenly


@dataclass
class Bill:
    items: list[tuple[str, Money]] = field(default_factory=list)
    tip_percent: int = 0

    def add(self, name: str, price: Money) -> None:
        self.items.append((name, price))

    def subtotal(self) -> Money:
        return sum((price for _, price in self.items), Money(0))

    def tip(self) -> Money:
        # Rounded half up to the cent.
        return Money((self.subtotal().cents * self.tip_percent + 50) // 100)

    def total(self) -> Money:
        return self.subtotal() + self.tip()

    def shares(self, people: int) -> list[Money]:
        return split_evenly(self.total(), people)
