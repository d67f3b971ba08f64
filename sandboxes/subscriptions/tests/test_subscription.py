from datetime import datetime, timezone

import pytest

from subscriptions import FixedClock, Plan, Subscription
from subscriptions.subscription import add_months

TEAM = Plan("team", monthly=True, trial_days=14)
YEARLY = Plan("enterprise", monthly=False)


def at(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    return FixedClock(at(2024, 1, 31, 9, 30))


def test_trial_starts_when_the_subscription_is_created(clock):
    sub = Subscription("acme", TEAM, clock=clock)
    assert sub.trial_ends == at(2024, 2, 14, 9, 30)


def test_in_trial_until_the_trial_ends(clock):
    sub = Subscription("acme", TEAM, clock=clock)
    clock.advance(days=13)
    assert sub.in_trial()
    clock.advance(days=1)
    assert not sub.in_trial()


def test_next_renewal_follows_the_clock(clock):
    sub = Subscription("acme", TEAM, clock=clock)
    assert sub.next_renewal() == at(2024, 3, 14, 9, 30)
    clock.advance(days=60)
    assert sub.next_renewal() == at(2024, 4, 14, 9, 30)


def test_cancel_during_the_trial_ends_with_the_trial(clock):
    sub = Subscription("acme", TEAM, clock=clock)
    clock.advance(days=3)
    assert sub.cancel() == at(2024, 2, 14, 9, 30)
    assert sub.next_renewal() is None


def test_explicit_start_date(clock):
    sub = Subscription("globex", YEARLY, clock=clock, started=at(2023, 6, 1))
    assert sub.renewals(2) == [at(2024, 6, 1), at(2025, 6, 1)]
    assert sub.next_renewal() == at(2024, 6, 1)


def test_month_ends_are_clamped():
    start = at(2024, 1, 31)
    assert [add_months(start, n) for n in (1, 2, 3, 13)] == \
        [at(2024, 2, 29), at(2024, 3, 31), at(2024, 4, 30), at(2025, 2, 28)]


def test_fixed_clock_needs_a_time_zone():
    with pytest.raises(ValueError):
        FixedClock(datetime(2024, 1, 1))
