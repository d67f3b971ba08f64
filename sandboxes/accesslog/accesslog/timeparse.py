"""Timestamps as the gateways write them, converted to UTC."""
from __future__ import annotations

from datetime import datetime

from dateutil import tz
from dateutil.parser import isoparse

UTC = tz.UTC


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp as an aware datetime in UTC; timestamps without an offset are UTC."""
    value = isoparse(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def hour_of(value: datetime) -> datetime:
    """The start of the UTC hour `value` falls in."""
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def format_timestamp(value: datetime) -> str:
    """How reports print a time: UTC, to the second, with a `Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
