import pytest

from semverlite import Version


def V(text):
    return Version.parse(text)


def test_parse_and_print():
    v = V("1.4.0-rc.1+build.7")
    assert (v.major, v.minor, v.patch, v.prerelease, v.build) == (1, 4, 0, ("rc", "1"), ("build", "7"))
    assert str(v) == "1.4.0-rc.1+build.7"


@pytest.mark.parametrize("bad", ["1.2", "01.2.3", "1.2.3-", "1.2.3-rc.01", "v1.2.3", "1.2.3-rc..1"])
def test_invalid(bad):
    with pytest.raises(ValueError):
        V(bad)


def test_release_precedence():
    assert V("1.0.0") < V("2.0.0") < V("2.1.0") < V("2.1.1") < V("10.0.0")


def test_release_after_its_prereleases():
    assert V("1.0.0-rc.1") < V("1.0.0")
    assert V("1.0.0") < V("1.0.1-alpha")


def test_numeric_identifiers_compare_numerically():
    assert V("1.0.0-rc.2") < V("1.0.0-rc.10")
    assert V("1.0.0-beta.9") < V("1.0.0-beta.11")


def test_numeric_identifiers_sort_before_alphanumeric_ones():
    assert V("1.0.0-alpha.1") < V("1.0.0-alpha.beta")
    assert V("1.0.0-1") < V("1.0.0-alpha")
    assert V("1.0.0-rc.1.5") < V("1.0.0-rc.1.x")


def test_shorter_prerelease_first():
    assert V("1.0.0-alpha") < V("1.0.0-alpha.1")
    assert V("1.0.0-alpha.beta") < V("1.0.0-alpha.beta.1")


def test_build_metadata_is_ignored():
    assert V("1.0.0+linux") == V("1.0.0+windows")
    assert len({V("1.0.0+a"), V("1.0.0+b")}) == 1


def test_bump():
    assert V("1.2.3").bump("minor") == V("1.3.0")
    assert V("1.3.0-rc.2").bump("patch") == V("1.3.0")
