import pytest

from retrykit import Backoff, RetryError, retry


class Flaky:
    def __init__(self, failures, exc=ConnectionError):
        self.failures, self.exc, self.calls = failures, exc, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc("try again")
        return "ok"


def test_succeeds_after_failures():
    slept = []
    fn = Flaky(3)
    assert retry(fn, attempts=5, sleep=slept.append) == "ok"
    assert fn.calls == 4 and len(slept) == 3


def test_gives_up_and_keeps_the_last_error():
    fn = Flaky(10)
    with pytest.raises(RetryError) as info:
        retry(fn, attempts=3, sleep=lambda s: None)
    assert info.value.attempts == 3 and isinstance(info.value.__cause__, ConnectionError)


def test_other_errors_are_not_retried():
    fn = Flaky(1, exc=KeyError)
    with pytest.raises(KeyError):
        retry(fn, attempts=5, retry_on=(ConnectionError,), sleep=lambda s: None)
    assert fn.calls == 1


def test_waits_follow_the_policy():
    slept = []
    retry(Flaky(4), attempts=5, policy=Backoff(base=1, jitter=0), sleep=slept.append)
    assert slept == [1, 2, 4, 8]
