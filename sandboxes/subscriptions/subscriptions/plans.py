"""What a customer subscribes to."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Plan:
    name: str
    monthly: bool = True          # False: yearly
    trial_days: int = 0
    price: Decimal = Decimal("0")

    @property
    def months(self) -> int:
        return 1 if self.monthly else 12
