"""Invoices: lines grouped by VAT rate, totals per rate and overall."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.tax import VAT_RATES, vat

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_price: Decimal
    rate: str = "standard"

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("quantity must be positive")
        if self.rate not in VAT_RATES:
            raise ValueError(f"unknown VAT rate {self.rate!r}")

    @property
    def net(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)


@dataclass
class Invoice:
    lines: list[Line] = field(default_factory=list)

    def add(self, line: Line) -> None:
        self.lines.append(line)

    def net_by_rate(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
        for line in self.lines:
            totals[line.rate] += line.net
        return dict(totals)

    def vat_by_rate(self) -> dict[str, Decimal]:
        """VAT per rate, each computed on the net sum at that rate (not line by line)."""
        return {rate: vat(net, rate) for rate, net in self.net_by_rate().items()}

    def net_total(self) -> Decimal:
        return sum(self.net_by_rate().values(), Decimal("0.00"))

    def vat_total(self) -> Decimal:
        return sum(self.vat_by_rate().values(), Decimal("0.00"))

    def gross_total(self) -> Decimal:
        return self.net_total() + self.vat_total()
