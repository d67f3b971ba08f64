import pytest

from retrykit import Backoff


def test_without_jitter_delays_double():
    policy = Backoff(base=0.5, factor=2, max_delay=30, jitter=0)
    assert list(policy.delays(8)) == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_jitter_stays_within_its_fraction():
    policy = Backoff(base=1, factor=2, max_delay=1000, jitter=0.2)
    for n, delay in enumerate(policy.delays(6)):
        nominal = 2 ** n
        assert 0.8 * nominal <= delay <= 1.2 * nominal


def test_no_delay_is_longer_than_max_delay():
    policy = Backoff(base=0.5, factor=2, max_delay=30, jitter=0.2)
    delays = list(policy.delays(8))
    assert max(delays) <= 30


def test_jitter_spreads_the_delays():
    policy = Backoff(base=1, factor=2, max_delay=1000, jitter=0.2)
    assert len({round(policy.delay(3), 6) for _ in range(20)}) > 1


@pytest.mark.parametrize("kwargs", [{"base": 0}, {"factor": 0.5}, {"max_delay": 0.1},
                                    {"jitter": 1.5}])
def test_bad_policies(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)
