"""The `Environment` seam: everything the agent loop needs from the place the agent works.

One protocol, two implementations:

- `DockerEnvironment` (`testbed.env.docker`): the real sandbox. A locked-down container for the
  agent, a fresh verdict container for every check, the shadow git, disk quotas.
- `LocalEnvironment` (`testbed.env.local`): a temporary directory and a local bash. **No isolation
  at all**: the agent's commands run on the host as the current user. For unit tests of the loop
  and for development only; `testbed run` never uses it unless asked with `--env local`.

The interface has no host paths in it: a caller sees command results, snapshots (commits of the
shadow git), verdicts and diffs. Both implementations pass the same conformance suite
(`tests/test_environment.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from testbed.log import Snapshot
from testbed.sandbox import ExecResult
from testbed.sandbox.verdict import Verdict

__all__ = ["Environment", "EnvFactory", "CheckResult", "ExecResult", "Snapshot", "Verdict"]


@dataclass
class CheckResult(Verdict):
    """A verdict plus what the harness saw around it."""

    background: list[str] = field(default_factory=list)  # the agent's processes alive at the check
    omitted: list[dict] = field(default_factory=list)    # files left out of the tested tree


class Environment(Protocol):
    initial_commit: str
    files: list[str]  # the workspace's files at the start (relative paths)

    def start(self) -> None:
        """Prepare the workspace and start whatever runs commands; ready for `exec`."""
        ...

    def exec(self, command: str, timeout: float) -> ExecResult:
        """Run one command in the agent's persistent shell."""
        ...

    def snapshot(self, message: str) -> Snapshot:
        """Record the workspace as it is now (a shadow-git commit when it changed)."""
        ...

    def check(self, seed: int) -> CheckResult:
        """The harness's verdict on the workspace as it is now (pristine tests, pinned runner)."""
        ...

    def restore(self, commit: str) -> None:
        """Make the workspace's files those of a recorded commit (the agent's .git is rebuilt
        from the initial commit; its own commits are not in the record)."""
        ...

    def diff(self, old: str, new: str, path: str | None = None) -> str:
        ...

    def describe(self) -> dict[str, Any]:
        """What the run's log records about the environment (image, isolation, limits, quota)."""
        ...

    def close(self) -> None:
        ...


# (spec, run directory) -> an environment that keeps its record (the shadow git) in that directory
EnvFactory = Callable[[Any, Any], Environment]


def default_factory(kind: str = "docker") -> EnvFactory:
    if kind == "docker":
        from testbed.env.docker import DockerEnvironment
        return DockerEnvironment
    if kind == "local":
        from testbed.env.local import LocalEnvironment
        return LocalEnvironment
    raise ValueError(f"unknown environment {kind!r} (docker, local)")
