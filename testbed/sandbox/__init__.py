"""Sandboxes: where the agent's commands run.

One protocol, `Sandbox`; `DockerSandbox` is the implementation. The harness never trusts the
agent's view of the tests: `check()` runs the pristine protected tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass
class ExecResult:
    output: str
    exit_code: int | None
    duration_ms: float
    truncated: bool = False
    timed_out: bool = False
    output_bytes: int = 0
    shell_restarted: bool = False
    notes: list[str] = field(default_factory=list)  # what the harness added (timeouts, restarts)


class Sandbox(Protocol):
    workspace: Path  # host path of the agent's working tree

    def start(self) -> None: ...

    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        """Run one command in the agent's persistent shell."""
        ...

    def check(self, test_command: str, timeout: float, env: dict[str, str] | None = None) -> ExecResult:
        """Run the pristine protected tests against the agent's code (not the agent's shell)."""
        ...

    def close(self) -> None: ...
