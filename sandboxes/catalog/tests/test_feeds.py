from decimal import Decimal

import pytest

from catalog import UnknownCurrency, parse_feed, refresh
from catalog.feeds import FeedError

MONDAY = """currency,rate
# ECB reference rates, Monday
USD,1.10
GBP,0.85
"""
TUESDAY = """currency,rate
# ECB reference rates, Tuesday (GBP not quoted)
USD,1.20
JPY,160.5
"""


def test_parse_feed():
    assert parse_feed(MONDAY) == {"USD": Decimal("1.10"), "GBP": Decimal("0.85")}


def test_bad_feed_line():
    with pytest.raises(FeedError, match="line 2"):
        parse_feed("currency,rate\nUSD;1.10\n")


def test_prices_follow_the_daily_feed(service):
    refresh(service, MONDAY)
    assert service.price("A1", "USD") == Decimal("13.09")
    refresh(service, TUESDAY)
    assert service.price("A1", "USD") == Decimal("14.28")
    assert service.price("A1", "JPY") == Decimal("1909.95")


def test_currencies_dropped_from_the_feed_are_no_longer_quoted(service):
    assert service.price("B2", "GBP") == Decimal("24.78")
    refresh(service, TUESDAY)
    with pytest.raises(UnknownCurrency):
        service.price("B2", "GBP")


def test_prices_stay_cached_between_feeds(service, store):
    refresh(service, MONDAY)
    service.price("A1", "USD")
    service.price("A1", "USD")
    assert store.reads == 1
