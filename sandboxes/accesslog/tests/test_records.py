import pytest

from accesslog import parse_line, read_log
from accesslog.records import LogFormatError

LOG = """# gateway eu-1
2024-03-05T10:15:00Z GET /v1/items 200 12
2024-03-05 11:02:10+01:00 POST /v1/items 201 48
2024-03-05T10:59:59.999Z GET /v1/items/7 404 3
2024-03-05T11:00:00Z GET /v1/items 503 1500
"""


def test_parse_line():
    record = parse_line("2024-03-05T10:15:00Z GET /v1/items 200 12")
    assert (record.method, record.path, record.status, record.duration_ms) == \
        ("GET", "/v1/items", 200, 12)
    assert record.time.hour == 10


def test_bad_lines():
    with pytest.raises(LogFormatError):
        parse_line("2024-03-05T10:15:00Z FETCH /v1/items 200 12")
    with pytest.raises(LogFormatError):
        parse_line("2024-03-05T10:15:00Z GET /v1/items")


def test_read_log(tmp_path):
    path = tmp_path / "gateway.log"
    path.write_text(LOG)
    records = read_log(path)
    assert len(records) == 4
    assert records[1].time.hour == 10 and records[1].time.minute == 2
