"""Amounts for print."""
from __future__ import annotations

from decimal import Decimal


def format_amount(amount: Decimal) -> str:
    """`1234.5` → `1,234.50`; negative amounts keep their sign in front."""
    sign = "-" if amount < 0 else ""
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{','.join(groups)}.{cents}"
