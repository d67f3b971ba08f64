from catalog import VersionedCache


def test_hit_while_the_token_is_unchanged():
    cache = VersionedCache()
    calls = []
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cache.get_or_compute("k", 1, compute) == 1
    assert cache.get_or_compute("k", 1, compute) == 1
    assert (cache.hits, cache.misses) == (1, 1)


def test_recompute_when_the_token_changes():
    cache = VersionedCache()
    assert cache.get_or_compute("k", 1, lambda: "old") == "old"
    assert cache.get_or_compute("k", 2, lambda: "new") == "new"


def test_least_recently_used_entry_is_evicted():
    cache = VersionedCache(maxsize=2)
    for key in "abc":
        cache.get_or_compute(key, 0, lambda: key)
    assert len(cache) == 2
    assert cache.get_or_compute("a", 0, lambda: "recomputed") == "recomputed"
