from catalog.cache import VersionedCache
from catalog.feeds import parse_feed, refresh
from catalog.pricing import PriceService
from catalog.rates import ExchangeRates, UnknownCurrency
from catalog.store import Product, ProductStore, UnknownProduct

__all__ = ["ExchangeRates", "PriceService", "Product", "ProductStore", "UnknownCurrency",
           "UnknownProduct", "VersionedCache", "parse_feed", "refresh"]
