from decimal import Decimal

import pytest

from catalog import ExchangeRates, PriceService, Product, ProductStore


@pytest.fixture
def store():
    return ProductStore([Product("A1", "Espresso cup", Decimal("10.00")),
                         Product("B2", "Milk jug", Decimal("24.50"))])


@pytest.fixture
def service(store):
    return PriceService(store, ExchangeRates.from_table({"USD": Decimal("1.10"),
                                                         "GBP": Decimal("0.85")}))
