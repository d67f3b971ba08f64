"""Reading `deps.txt`."""
from __future__ import annotations

import re

from buildorder.graph import DependencyGraph

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def parse_deps(text: str) -> DependencyGraph:
    """`package: dep, dep` per line; `#` starts a comment; a package may be listed alone."""
    graph = DependencyGraph()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        package, sep, rest = line.partition(":")
        package = package.strip()
        deps = [d.strip() for d in rest.split(",") if d.strip()] if sep else []
        for name in [package, *deps]:
            if not _NAME.match(name):
                raise ValueError(f"line {number}: bad package name {name!r}")
        graph.add(package, deps)
    return graph
