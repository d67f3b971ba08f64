from durations.format import format_duration
from durations.parse import DurationError, parse_duration
from durations.retention import RetentionPolicy

__all__ = ["DurationError", "RetentionPolicy", "format_duration", "parse_duration"]
