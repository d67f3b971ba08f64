"""VAT rates and the VAT on a net amount."""
from __future__ import annotations

from decimal import Decimal

# Rates as published (Germany, since 2007).
VAT_RATES = {
    "standard": 0.19,
    "reduced": 0.07,
    "zero": 0.0,
}


def vat(net: Decimal, rate: str = "standard") -> Decimal:
    """The VAT on `net` at the named rate, rounded half up to the cent (commercial rounding).

    >>> vat(Decimal("100.00"))
    Decimal('19.00')
    """
    if rate not in VAT_RATES:
        raise KeyError(f"unknown VAT rate {rate!r} (known: {', '.join(VAT_RATES)})")
    amount = round(float(net) * VAT_RATES[rate], 2)
    return Decimal(str(amount)).quantize(Decimal("0.01"))


def gross(net: Decimal, rate: str = "standard") -> Decimal:
    """`net` plus its VAT."""
    return net + vat(net, rate)
