"""Products and their net prices (EUR, without VAT)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Iterable


class UnknownProduct(KeyError):
    pass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    net_price: Decimal


class ProductStore:
    """In production this is a database table; `reads` counts the lookups so that callers can
    check they are not hitting it more than needed. `version` changes with every write."""

    def __init__(self, products: Iterable[Product] = ()) -> None:
        self._products: dict[str, Product] = {}
        self.version = 0
        self.reads = 0
        for product in products:
            self.add(product)

    def add(self, product: Product) -> None:
        self._products[product.sku] = product
        self.version += 1

    def get(self, sku: str) -> Product:
        self.reads += 1
        try:
            return self._products[sku]
        except KeyError:
            raise UnknownProduct(sku) from None

    def set_price(self, sku: str, net_price: Decimal) -> None:
        product = self.get(sku)
        self._products[sku] = replace(product, net_price=net_price)
        self.version += 1

    def __len__(self) -> int:
        return len(self._products)
