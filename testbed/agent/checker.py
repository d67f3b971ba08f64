"""The harness's own verdict on the tests, parsed from the pristine test run."""
from __future__ import annotations

import re
from dataclasses import dataclass

from testbed.sandbox import ExecResult

_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")
_SUMMARY = re.compile(r"^=*\s*(?:\d+ \w+(?:, )?)+.* in [\d.]+s", re.M)


@dataclass
class TestResult:
    passed: int
    failed: int
    errors: int
    all_passed: bool
    exit_code: int | None
    duration_ms: float
    output: str
    timed_out: bool = False


def parse_counts(output: str) -> dict[str, int]:
    """Counts from the last pytest summary line ("2 failed, 5 passed in 0.1s")."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    lines = [ln for ln in output.splitlines() if re.search(r" in [\d.]+s", ln) and _COUNT.search(ln)]
    if not lines:
        return counts
    for n, kind in _COUNT.findall(lines[-1]):
        key = "errors" if kind.startswith("error") else kind
        if key in counts:
            counts[key] = int(n)
    return counts


def verdict(res: ExecResult) -> TestResult:
    counts = parse_counts(res.output)
    # Green means the command succeeded and, for pytest, that something actually ran and nothing
    # was skipped wholesale: a suite that "passes" by running zero tests is not a pass.
    ran = counts["passed"] + counts["failed"] + counts["errors"]
    looks_like_pytest = ran > 0 or "no tests ran" in res.output
    all_passed = res.exit_code == 0 and (not looks_like_pytest or (counts["passed"] > 0 and
                                                                   counts["failed"] == 0 and
                                                                   counts["errors"] == 0))
    failed = counts["failed"] if looks_like_pytest else (0 if res.exit_code == 0 else 1)
    return TestResult(passed=counts["passed"], failed=failed, errors=counts["errors"],
                      all_passed=all_passed, exit_code=res.exit_code, duration_ms=res.duration_ms,
                      output=res.output, timed_out=res.timed_out)
