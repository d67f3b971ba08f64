from buildorder.graph import CycleError, DependencyGraph
from buildorder.parse import parse_deps

__all__ = ["CycleError", "DependencyGraph", "parse_deps"]
