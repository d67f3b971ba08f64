"""Calling a function until it succeeds or the attempts run out."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from retrykit.backoff import Backoff

T = TypeVar("T")


class RetryError(Exception):
    """All attempts failed; `__cause__` is the last error."""

    def __init__(self, attempts: int, waited: float):
        super().__init__(f"gave up after {attempts} attempts ({waited:.1f} s of waiting)")
        self.attempts = attempts
        self.waited = waited


def retry(fn: Callable[[], T], attempts: int = 5,
          retry_on: tuple[type[BaseException], ...] = (Exception,),
          policy: Backoff = Backoff(), sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `fn` up to `attempts` times, sleeping `policy.delay(n)` between attempts. Errors not
    in `retry_on` are raised at once; when every attempt fails, RetryError is raised from the last
    error."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    waited = 0.0
    for attempt in range(attempts):
        try:
            return fn()
        except retry_on as exc:
            if attempt == attempts - 1:
                raise RetryError(attempts, waited) from exc
            delay = policy.delay(attempt)
            sleep(delay)
            waited += delay
    raise AssertionError("unreachable")
