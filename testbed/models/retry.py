"""Bounded retries with exponential backoff and full jitter, for every hosted provider.

Retried: HTTP 408, 409, 429 and 5xx (including Anthropic's 529 "overloaded"), timeouts and
connection errors. Not retried: every other 4xx (bad request, bad key, unknown model), which no
amount of waiting fixes. A `Retry-After` header is honoured up to the cap.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, TypeVar

T = TypeVar("T")


@dataclass
class RetryPolicy:
    attempts: int = 6        # tries in all, the first included
    base_s: float = 1.0      # the first backoff ceiling; doubles each try
    cap_s: float = 60.0      # no single wait is longer

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based): full jitter."""
        ceiling = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        wait = rng.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(self.cap_s, retry_after))
        return wait

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Failure:
    retryable: bool
    what: str                      # "HTTP 429", "timeout", ...
    retry_after: float | None = None


class RetriesExhausted(Exception):
    def __init__(self, failure: Failure, attempts: int, last: BaseException):
        self.failure, self.attempts, self.last = failure, attempts, last
        super().__init__(f"{failure.what} after {attempts} tries: {last}")


def classify(exc: BaseException) -> Failure:
    """What an SDK exception (openai or anthropic; they share their shape) means for retrying."""
    names = {c.__name__ for c in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    if "APITimeoutError" in names or isinstance(exc, TimeoutError):
        return Failure(True, "timeout")
    if "APIConnectionError" in names or isinstance(exc, ConnectionError):
        return Failure(True, "connection error")
    if isinstance(status, int):
        retry = status in (408, 409, 429) or status >= 500
        return Failure(retry, f"HTTP {status}", _retry_after(exc) if retry else None)
    return Failure(False, type(exc).__name__)


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, rng: random.Random,
                      on_retry: Callable[[int, Failure, float], None] | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> tuple[T, int]:
    """(fn's result, tries used). Raises RetriesExhausted for a retryable failure that outlasted
    the policy; any other exception goes through unchanged on its first occurrence."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(), attempt
        except Exception as exc:
            failure = classify(exc)
            if not failure.retryable:
                raise
            if attempt >= policy.attempts:
                raise RetriesExhausted(failure, attempt, exc) from exc
            wait = policy.delay(attempt, rng, failure.retry_after)
            if on_retry:
                on_retry(attempt, failure, wait)
            sleep(wait)


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    try:
        if value is not None:
            return float(value) / 1000
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date: fall back to our own backoff
