from datetime import datetime, timedelta, timezone

import pytest

from accesslog import parse_timestamp
from accesslog.timeparse import format_timestamp

UTC_10_15 = datetime(2024, 3, 5, 10, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", [
    "2024-03-05T10:15:00Z",
    "2024-03-05T11:15:00+01:00",
    "2024-03-05T05:15:00-05:00",
    "2024-03-05 10:15:00Z",
    "2024-03-05T10:15:00",
    "20240305T101500Z",
], ids=["zulu", "cet", "est", "space", "naive", "basic"])
def test_gateway_formats_mean_the_same_instant(text):
    value = parse_timestamp(text)
    assert value == UTC_10_15
    assert value.utcoffset() == timedelta(0)


def test_milliseconds_are_kept():
    assert parse_timestamp("2024-03-05T10:15:00.250Z").microsecond == 250000


def test_garbage_is_rejected():
    with pytest.raises(ValueError):
        parse_timestamp("yesterday at noon")


def test_format_timestamp():
    assert format_timestamp(parse_timestamp("2024-03-05T11:15:00.7+01:00")) == "2024-03-05T10:15:00Z"
