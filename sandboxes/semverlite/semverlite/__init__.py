from semverlite.ranges import Range, max_satisfying, satisfies
from semverlite.version import Version

__all__ = ["Range", "Version", "max_satisfying", "satisfies"]
