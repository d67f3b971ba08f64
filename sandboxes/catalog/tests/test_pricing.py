from decimal import Decimal

import pytest

from catalog import UnknownCurrency


def test_gross_price_in_euro(service):
    assert service.price("A1") == Decimal("11.90")
    assert service.price("B2") == Decimal("29.16")  # 29.155 rounds up


def test_gross_price_in_other_currencies(service):
    assert service.price("A1", "USD") == Decimal("13.09")
    assert service.price("A1", "GBP") == Decimal("10.12")  # 10.115


def test_repeated_lookups_are_served_from_the_cache(service, store):
    for _ in range(5):
        service.price("A1", "USD")
        service.price("B2")
    assert store.reads == 2


def test_price_change_is_visible_at_once(service, store):
    assert service.price("A1", "USD") == Decimal("13.09")
    store.set_price("A1", Decimal("20.00"))
    assert service.price("A1", "USD") == Decimal("26.18")


def test_rate_change_is_visible_at_once(service):
    assert service.price("A1", "USD") == Decimal("13.09")
    service.rates.set_rate("USD", Decimal("1.20"))
    assert service.price("A1", "USD") == Decimal("14.28")


def test_unknown_currency(service):
    with pytest.raises(UnknownCurrency):
        service.price("A1", "XYZ")


def test_price_list(service):
    assert service.price_list("EUR") == {"A1": Decimal("11.90"), "B2": Decimal("29.16")}
