"""Retention periods, written the way the backup configurations write them."""
from datetime import date, timedelta

from durations import RetentionPolicy, parse_duration


def test_weeks_and_days():
    assert RetentionPolicy("2w").expires(date(2024, 1, 1)) == date(2024, 1, 15)
    assert RetentionPolicy("10d").expires(date(2024, 2, 25)) == date(2024, 3, 6)


def test_month_retention():
    # Monthly retention ("keep = 6m" in every backup config we ship) counts 30-day months.
    assert parse_duration("6m") == timedelta(days=180)
    assert RetentionPolicy("6m").expires(date(2024, 1, 1)) == date(2024, 6, 29)


def test_expired():
    policy = RetentionPolicy("7d")
    assert not policy.expired(date(2024, 3, 1), today=date(2024, 3, 7))
    assert policy.expired(date(2024, 3, 1), today=date(2024, 3, 8))


def test_partial_days_round_up():
    assert RetentionPolicy("36h").expires(date(2024, 3, 1)) == date(2024, 3, 3)
