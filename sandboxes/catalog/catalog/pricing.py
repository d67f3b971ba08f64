"""Gross prices in any currency, cached until a product or the exchange rates change."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from catalog.cache import VersionedCache
from catalog.rates import ExchangeRates
from catalog.store import ProductStore

VAT = Decimal("0.19")
CENT = Decimal("0.01")


class PriceService:
    def __init__(self, store: ProductStore, rates: ExchangeRates,
                 cache: VersionedCache | None = None) -> None:
        self.store = store
        self.rates = rates
        self.cache = cache if cache is not None else VersionedCache()

    def _token(self) -> tuple[int, int]:
        # A cached price stays valid while neither the products nor the rates have changed.
        return (self.store.version, self.rates.version)

    def price(self, sku: str, currency: str = "EUR") -> Decimal:
        """The gross price (net + 19 % VAT) of `sku` in `currency`, rounded half up to the cent."""
        return self.cache.get_or_compute((sku, currency), self._token(),
                                         lambda: self._compute(sku, currency))

    def _compute(self, sku: str, currency: str) -> Decimal:
        product = self.store.get(sku)
        gross = product.net_price * (1 + VAT)
        return (gross * self.rates.rate(currency)).quantize(CENT, rounding=ROUND_HALF_UP)

    def price_list(self, currency: str = "EUR") -> dict[str, Decimal]:
        return {sku: self.price(sku, currency) for sku in sorted(self.store._products)}
