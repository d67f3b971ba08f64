from accesslog.records import Record, parse_line, read_log
from accesslog.stats import error_rate, percentile, requests_per_hour
from accesslog.timeparse import parse_timestamp

__all__ = ["Record", "error_rate", "parse_line", "parse_timestamp", "percentile", "read_log",
           "requests_per_hour"]
