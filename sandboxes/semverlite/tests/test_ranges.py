from semverlite import max_satisfying, satisfies


def test_caret_and_tilde():
    assert satisfies("1.9.9", "^1.2.3") and not satisfies("2.0.0", "^1.2.3")
    assert satisfies("0.2.9", "^0.2.3") and not satisfies("0.3.0", "^0.2.3")
    assert satisfies("1.2.9", "~1.2.3") and not satisfies("1.3.0", "~1.2.3")


def test_comparators_all_hold():
    assert satisfies("1.5.0", ">=1.2.0 <2.0.0")
    assert not satisfies("2.0.0", ">=1.2.0 <2.0.0")


def test_prereleases_only_when_asked():
    assert not satisfies("1.3.0-rc.1", "^1.2.0")
    assert satisfies("1.3.0-rc.1", "^1.2.0", include_prerelease=True)


def test_max_satisfying():
    versions = ["1.2.0", "1.3.5", "1.10.0", "2.0.0", "1.11.0-rc.1"]
    assert max_satisfying(versions, "^1.2.0") == "1.10.0"
    assert max_satisfying(versions, "^3.0.0") is None


def test_newest_release_candidate():
    candidates = ["2.0.0-rc.1", "2.0.0-rc.2", "2.0.0-rc.10", "2.0.0-beta.3"]
    assert max_satisfying(candidates, ">=2.0.0-rc.1", include_prerelease=True) == "2.0.0-rc.10"
