"""Version ranges: `>=1.2.0 <2.0.0`, `^1.2.3`, `~1.2.3`."""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from semverlite.version import Version

_OPS: dict[str, Callable[[Version, Version], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "=": operator.eq,
}
_COMPARATOR = re.compile(r"^(>=|<=|>|<|=|\^|~)?(.+)$")


@dataclass(frozen=True)
class Range:
    comparators: tuple[tuple[str, Version], ...]

    @classmethod
    def parse(cls, spec: str) -> "Range":
        comparators = []
        for part in spec.split():
            match = _COMPARATOR.match(part)
            if not match:
                raise ValueError(f"bad comparator {part!r}")
            op, version = match.group(1) or "=", Version.parse(match.group(2))
            if op == "^":
                upper = version.bump("major") if version.major else (
                    version.bump("minor") if version.minor else version.bump("patch"))
                comparators += [(">=", version), ("<", Version(upper.major, upper.minor,
                                                                upper.patch, ("0",)))]
            elif op == "~":
                upper = version.bump("minor")
                comparators += [(">=", version), ("<", Version(upper.major, upper.minor,
                                                                upper.patch, ("0",)))]
            else:
                comparators.append((op, version))
        if not comparators:
            raise ValueError("empty range")
        return cls(tuple(comparators))

    def contains(self, version: Version, include_prerelease: bool = False) -> bool:
        if version.is_prerelease and not include_prerelease:
            return False
        return all(_OPS[op](version, bound) for op, bound in self.comparators)


def satisfies(version: str, spec: str, include_prerelease: bool = False) -> bool:
    return Range.parse(spec).contains(Version.parse(version), include_prerelease)


def max_satisfying(versions: Iterable[str], spec: str, include_prerelease: bool = False) -> str | None:
    """The highest of `versions` inside the range, or None."""
    rng = Range.parse(spec)
    matching = [Version.parse(v) for v in versions]
    matching = [v for v in matching if rng.contains(v, include_prerelease)]
    return str(max(matching)) if matching else None
