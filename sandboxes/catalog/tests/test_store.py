from decimal import Decimal

import pytest

from catalog import UnknownProduct


def test_get_and_set_price(store):
    store.set_price("A1", Decimal("11.00"))
    assert store.get("A1").net_price == Decimal("11.00")
    assert store.get("A1").name == "Espresso cup"


def test_every_write_changes_the_version(store):
    before = store.version
    store.set_price("B2", Decimal("20.00"))
    assert store.version != before


def test_unknown_product(store):
    with pytest.raises(UnknownProduct):
        store.get("Z9")
