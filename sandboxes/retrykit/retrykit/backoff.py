"""Exponential backoff with jitter."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Backoff:
    """Delays of `base`, `base*factor`, `base*factor**2`, ... seconds, each randomised by up to
    ±`jitter` (a fraction of the delay). No delay is ever longer than `max_delay`."""

    base: float = 0.5
    factor: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.max_delay < self.base:
            raise ValueError("need base > 0, factor >= 1 and max_delay >= base")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """The delay before retry `retry_number` (0 for the first retry)."""
        # Without an rng, the module-level functions: random.seed() makes runs repeatable.
        uniform = (rng or random).uniform
        delay = min(self.base * self.factor ** retry_number, self.max_delay)
        if self.jitter:
            delay *= 1 + uniform(-self.jitter, self.jitter)
        return delay

    def delays(self, retries: int, rng: random.Random | None = None) -> Iterator[float]:
        for n in range(retries):
            yield self.delay(n, rng)
