"""Exchange rates from EUR: 1 EUR buys `rate(currency)` units of that currency."""
from __future__ import annotations

from decimal import Decimal
from typing import Mapping


class UnknownCurrency(KeyError):
    pass


class ExchangeRates:
    """`version` changes whenever a rate changes, so that caches can tell when to recompute."""

    def __init__(self) -> None:
        self._rates: dict[str, Decimal] = {"EUR": Decimal("1")}
        self.version = 0

    @classmethod
    def from_table(cls, table: Mapping[str, Decimal]) -> "ExchangeRates":
        rates = cls()
        rates.load(table)
        return rates

    def rate(self, currency: str) -> Decimal:
        try:
            return self._rates[currency]
        except KeyError:
            raise UnknownCurrency(currency) from None

    def set_rate(self, currency: str, rate: Decimal) -> None:
        if currency == "EUR":
            raise ValueError("EUR is the base currency")
        if rate <= 0:
            raise ValueError(f"rate for {currency} must be positive")
        self._rates[currency] = Decimal(rate)
        self.version += 1

    def load(self, table: Mapping[str, Decimal]) -> None:
        """Set many rates at once (one version step for the whole table)."""
        for currency, rate in table.items():
            if rate <= 0:
                raise ValueError(f"rate for {currency} must be positive")
        self._rates.update({c: Decimal(r) for c, r in table.items() if c != "EUR"})
        self.version += 1

    def currencies(self) -> list[str]:
        return sorted(self._rates)
