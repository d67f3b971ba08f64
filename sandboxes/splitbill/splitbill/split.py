"""Splitting an amount between people."""
from __future__ import annotations

from splitbill.money import Money


def split_evenly(total: Money, people: int) -> list[Money]:
    """Split `total` between `people`.

    The shares differ by at most one cent and always add up to exactly `total`. When the cents do
    not divide evenly, the people first in the list pay the extra cent, so the shares never
    increase along the list.
    """
    if people < 1:
        raise ValueError("need at least one person")
    base, extra = divmod(total.cents, people)
    return [Money(base + (1 if i >= people - extra else 0)) for i in range(people)]


def split_by_weight(total: Money, weights: list[int]) -> list[Money]:
    """Split `total` in proportion to `weights` (largest remainder method): the shares add up to
    exactly `total`, and leftover cents go to the largest remainders, earlier people first."""
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValueError("weights must be non-negative and not all zero")
    whole = sum(weights)
    shares = [total.cents * w // whole for w in weights]
    remainders = [total.cents * w % whole for w in weights]
    leftover = total.cents - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:leftover]:
        shares[i] += 1
    return [Money(c) for c in shares]
