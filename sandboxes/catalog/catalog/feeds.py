"""The daily exchange-rate feed: `CURRENCY,RATE` lines, `#` comments, a header line."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from catalog.rates import ExchangeRates

if TYPE_CHECKING:
    from catalog.pricing import PriceService


class FeedError(ValueError):
    pass


def parse_feed(text: str) -> dict[str, Decimal]:
    table: dict[str, Decimal] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.lower().startswith("currency"):
            continue
        try:
            currency, rate = (part.strip() for part in line.split(","))
            table[currency.upper()] = Decimal(rate)
        except (ValueError, InvalidOperation):
            raise FeedError(f"line {number}: expected CURRENCY,RATE, got {line!r}") from None
    if not table:
        raise FeedError("the feed has no rates")
    return table


def refresh(service: "PriceService", text: str) -> None:
    """Swap in the rates of a new daily feed. The new table replaces the old one as a whole,
    so currencies dropped from the feed are no longer quoted."""
    service.rates = ExchangeRates.from_table(parse_feed(text))
