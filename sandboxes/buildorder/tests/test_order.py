import pytest

from buildorder import CycleError, parse_deps

MONOREPO = """
# the storefront monorepo
app: api, web, config
api: db, auth, log, metrics
web: assets, log, i18n
db: log, config
auth: crypto, config
worker: db, queue, log
queue: log
assets:
crypto:
i18n:
log:
metrics:
config:
"""


def test_dependencies_come_first():
    order = parse_deps(MONOREPO).order()
    for package in order:
        for dep in parse_deps(MONOREPO).dependencies(package):
            assert order.index(dep) < order.index(package)


def test_build_order_is_alphabetical_among_ready_packages():
    assert parse_deps(MONOREPO).order() == [
        "assets", "config", "crypto", "auth", "i18n", "log", "db", "metrics", "api", "queue",
        "web", "app", "worker",
    ]


def test_build_order_of_independent_packages():
    graph = parse_deps("zlib:\nopenssl:\ncurl: zlib, openssl\nbzip2:\nxz:\nlibarchive: bzip2, xz, zlib\n")
    assert graph.order() == ["bzip2", "openssl", "xz", "zlib", "curl", "libarchive"]


def test_waves():
    assert parse_deps(MONOREPO).waves() == [
        ["assets", "config", "crypto", "i18n", "log", "metrics"],
        ["auth", "db", "queue", "web"],
        ["api", "worker"],
        ["app"],
    ]


def test_cycles_are_reported():
    graph = parse_deps("a: b\nb: c\nc: a\nd:\n")
    with pytest.raises(CycleError, match="a, b, c"):
        graph.order()
    with pytest.raises(CycleError):
        graph.waves()
