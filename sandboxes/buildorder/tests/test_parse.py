import pytest

from buildorder import CycleError, parse_deps


def test_parse_with_comments_and_blank_lines():
    graph = parse_deps("# header\napp: lib, util  # trailing\n\nlib: util\n")
    assert graph.packages() == ["app", "lib", "util"]
    assert graph.dependencies("app") == {"lib", "util"}
    assert graph.dependents("util") == {"app", "lib"}


def test_bad_names():
    with pytest.raises(ValueError, match="line 2"):
        parse_deps("ok:\nNot OK: x\n")


def test_self_dependency():
    with pytest.raises(CycleError):
        parse_deps("a: a\n")
