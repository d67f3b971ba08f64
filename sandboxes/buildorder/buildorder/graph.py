"""The dependency graph and the build order."""
from __future__ import annotations

from typing import Iterable


class CycleError(ValueError):
    pass


class DependencyGraph:
    def __init__(self) -> None:
        self._deps: dict[str, set[str]] = {}

    def add(self, package: str, depends_on: Iterable[str] = ()) -> None:
        deps = set(depends_on)
        if package in deps:
            raise CycleError(f"{package} depends on itself")
        self._deps.setdefault(package, set()).update(deps)
        for dep in deps:
            self._deps.setdefault(dep, set())

    def packages(self) -> list[str]:
        return sorted(self._deps)

    def dependencies(self, package: str) -> set[str]:
        return set(self._deps[package])

    def dependents(self, package: str) -> set[str]:
        return {p for p, deps in self._deps.items() if package in deps}

    def order(self) -> list[str]:
        """Every package after all of its dependencies. Among the packages that are ready to be
        built at the same moment, the alphabetically first goes first, so that the order is the
        same on every machine."""
        waiting = {p: set(deps) for p, deps in self._deps.items()}
        ready = {p for p, deps in waiting.items() if not deps}
        out: list[str] = []
        while ready:
            package = ready.pop()
            out.append(package)
            for other in self.dependents(package):
                waiting[other].discard(package)
                if not waiting[other]:
                    ready.add(other)
        if len(out) != len(waiting):
            stuck = sorted(p for p in waiting if p not in out)
            raise CycleError(f"dependency cycle among: {', '.join(stuck)}")
        return out

    def waves(self) -> list[list[str]]:
        """Groups that can be built in parallel: each wave depends only on earlier waves."""
        done: set[str] = set()
        waves = []
        while len(done) < len(self._deps):
            wave = sorted(p for p, deps in self._deps.items() if p not in done and deps <= done)
            if not wave:
                raise CycleError("dependency cycle among: "
                                 + ", ".join(sorted(set(self._deps) - done)))
            waves.append(wave)
            done.update(wave)
        return waves
