from datetime import timedelta

import pytest

from durations import DurationError, format_duration, parse_duration

UNIT_TABLE = [
    ("2w", timedelta(weeks=2)),
    ("3d", timedelta(days=3)),
    ("12h", timedelta(hours=12)),
    ("6m", timedelta(minutes=6)),
    ("90s", timedelta(seconds=90)),
    ("250ms", timedelta(milliseconds=250)),
]


@pytest.mark.parametrize("text, expected", UNIT_TABLE, ids=[t for t, _ in UNIT_TABLE])
def test_single_units(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("1h30m", timedelta(hours=1, minutes=30)),
    ("1h 30m", timedelta(hours=1, minutes=30)),
    ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ("1s500ms", timedelta(seconds=1, milliseconds=500)),
], ids=["1h30m", "1h_30m", "1d2h3m4s", "1s500ms"])
def test_compound(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "h", "10", "5x", "1m1h", "1h1h", "-5s"])
def test_rejected(bad):
    with pytest.raises(DurationError):
        parse_duration(bad)


@pytest.mark.parametrize("text", ["1h30m", "2w3d", "45s", "1m1s", "250ms"])
def test_format_round_trips(text):
    assert format_duration(parse_duration(text)) == text
