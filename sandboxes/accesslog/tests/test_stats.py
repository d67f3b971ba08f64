from datetime import datetime, timezone

from accesslog import error_rate, parse_line, percentile, requests_per_hour

LINES = [
    "2024-03-05T09:59:59Z GET /a 200 10",
    "2024-03-05T10:00:00Z GET /a 200 20",
    "2024-03-05 11:30:00+01:00 GET /b 500 900",
    "2024-03-05T10:45:00.5Z GET /c 200 30",
    "2024-03-05T11:00:00Z GET /a 200 40",
]


def records():
    return [parse_line(line) for line in LINES]


def test_requests_per_hour_in_utc():
    def hour(h):
        return datetime(2024, 3, 5, h, tzinfo=timezone.utc)
    assert requests_per_hour(records()) == {hour(9): 1, hour(10): 3, hour(11): 1}


def test_error_rate():
    assert error_rate(records()) == 0.2
    assert error_rate([]) == 0.0


def test_percentiles():
    assert percentile(records(), 50) == 30
    assert percentile(records(), 95) == 900
