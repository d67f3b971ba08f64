"""Test runs the agent made itself, read back from its bash commands and their output.

Imported runs have no harness test run (nothing re-ran the pristine tests), so the only evidence
of test status is what the agent's own test commands printed. A `tests` event is written only when
the command is recognisably a test run AND its output ends with the runner's own summary line
(pytest's `N failed, M passed in Xs`, unittest's `Ran N tests` + `OK` / `FAILED (…)`). Such events
say `origin: "agent_command"` and `pristine: false`: they report what the agent saw, on test files it
may have edited, not a verdict of this harness.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_TEST_COMMAND = re.compile(r"(?:^|[\s;&|/(])(?:pytest|py\.test|tox|nox|unittest|runtests(?:\.py)?|"
                           r"manage\.py\s+test|make\s+(?:test|check))\b")
_PYTEST_SUMMARY = re.compile(
    r"^[=\s]*((?:\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun)"
    r"(?:, )?)+|no tests ran)(?: in [\d.]+s)?(?: \([\d:]+\))?[=\s]*$", re.MULTILINE)
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s\s*$", re.MULTILINE)
_UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \(([^)]*)\))?\s*$", re.MULTILINE)


@dataclass
class ParsedTests:
    passed: int
    failed: int
    errors: int
    runner: str

    @property
    def all_passed(self) -> bool:
        return self.passed > 0 and self.failed == 0 and self.errors == 0


def looks_like_test_command(command: str) -> bool:
    return bool(_TEST_COMMAND.search(command))


def parse_test_output(command: str, output: str) -> ParsedTests | None:
    if not looks_like_test_command(command):
        return None
    summaries = list(_PYTEST_SUMMARY.finditer(output))
    if summaries:
        counts = {"passed": 0, "failed": 0, "errors": 0}
        for n, kind in _COUNT.findall(summaries[-1].group(1)):
            key = "errors" if kind.startswith("error") else kind
            if key in counts:
                counts[key] += int(n)
        return ParsedTests(counts["passed"], counts["failed"], counts["errors"], "pytest")
    ran = list(_UNITTEST_RAN.finditer(output))
    if ran:
        end = _UNITTEST_END.search(output, ran[-1].end())
        if end is None:
            return None
        detail = dict(re.findall(r"(\w+)=(\d+)", end.group(2) or ""))
        failed, errors = int(detail.get("failures", 0)), int(detail.get("errors", 0))
        skipped = int(detail.get("skipped", 0))
        total = int(ran[-1].group(1))
        return ParsedTests(max(0, total - failed - errors - skipped), failed, errors, "unittest")
    return None
